package custom

import (
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
)

// ref is a fake host.Ref.
type ref string

func (r ref) String() string { return string(r) }

// sent is one message a behaviour sent through the fake context.
type sent struct {
	to  host.Ref
	msg proto.Message
}

// context is a host.Context that records what a behaviour asks of its host and runs nothing: the unit tests
// drive group and wrapper message by message. Go runs the task at once, telling into told.
type context struct {
	self    host.Ref
	spawned []host.Props
	sent    []sent
	told    []proto.Message
}

var _ host.Context = (*context)(nil)

func (c *context) Self() host.Ref                    { return c.self }
func (c *context) Parent() host.Ref                  { return ref("parent") }
func (c *context) Sender() host.Ref                  { return nil }
func (c *context) Send(to host.Ref, m proto.Message) { c.sent = append(c.sent, sent{to, m}) }
func (c *context) Request(to host.Ref, m proto.Message) {
	c.sent = append(c.sent, sent{to, m})
}
func (c *context) Respond(proto.Message) {}
func (c *context) Forward(to host.Ref)   { c.sent = append(c.sent, sent{to, nil}) }
func (c *context) Spawn(p host.Props) host.Ref {
	c.spawned = append(c.spawned, p)
	return ref(fmt.Sprintf("%s#%d", p.Name, len(c.spawned)))
}
func (c *context) Stop(host.Ref)                                 {}
func (c *context) Go(_ string, io func(host.Task))               { io(task{c}) }
func (c *context) After(time.Duration, proto.Message) host.Timer { return nil }
func (c *context) Publish(proto.Message)                         {}
func (c *context) Logger() *slog.Logger                          { return slog.New(slog.DiscardHandler) }

type task struct{ c *context }

func (t task) Tell(m proto.Message)            { t.c.told = append(t.c.told, m) }
func (t task) Wait(recv func(block bool) bool) { recv(true) }

// heard is a user behaviour that records what it is told.
type heard struct {
	env     Env
	started bool
	got     []proto.Message
}

func (h *heard) Started(host.Context)                    { h.started = true }
func (h *heard) Release(host.Context, bool)              {}
func (h *heard) Receive(_ host.Context, m proto.Message) { h.got = append(h.got, m) }
