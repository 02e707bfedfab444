// Package vclock is a virtual clock implementing clock.Clock (DESIGN §10, STYLE 3): time stands still until the
// test moves it.
//
// Contract:
//   - Now starts at Epoch (2026-01-01 00:00:00 UTC) for New, or at the given instant for NewAt, and changes only
//     through Advance, AdvanceTo and FireNext. It never goes backwards.
//   - AfterFunc(d, f) registers a timer due at Now()+d (a negative d counts as 0). It never runs f itself: timers
//     fire only inside Advance, AdvanceTo or FireNext, so a timer due "now" waits for the next Advance (even
//     Advance(0)).
//   - Firing order is due time, ties broken by registration order. Before each callback the clock is set to that
//     timer's due time; the callback runs synchronously on the goroutine that advanced the clock, without any lock
//     held, so it may read the clock, register or stop timers, and call into code that does. A timer registered by
//     a callback and due within the window being advanced fires in the same call.
//   - Timer.Stop reports whether it prevented the callback from running (false once it fired or was stopped).
//   - All methods are safe for concurrent use. Two goroutines advancing at once each fire a disjoint set of timers;
//     tests that want a deterministic trace advance from one goroutine.
package vclock
