// Package zkproxy is a TCP proxy that injects network faults between a ZooKeeper client and server.
//
// Ochopod's behaviour when its ZooKeeper connection degrades (session suspension, expiry, reconnection to the same
// session) is its most delicate logic, and stopping the server cannot exercise it: a dead server refuses
// connections at once, whereas a partition shows up as silence and a flaky link as delay. The proxy sits on
// 127.0.0.1 in front of one server and can delay, freeze, cut or refuse connections on demand, while the server
// and its sessions stay alive.
//
//	srv := zkserver.Start(t)
//	p, err := zkproxy.New(srv.Addr())
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer p.Close()
//	conn := dial(p.Addr())     // the client talks to the proxy
//	p.Pause()                  // partition: connections stay open, bytes stop flowing
//	...                        // client sees silence; its session is suspended, then expires on the server
//	p.Resume()                 // held bytes are delivered, as TCP retransmission would
//	p.Cut()                    // every connection closes; new ones are accepted
//	p.Refuse(true)             // new connections are reset at once, like a server that is down
//	p.SetLatency(50 * time.Millisecond)
//
// Latency and pauses apply to existing and new connections alike; Refuse applies to new ones only. Close stops every goroutine the proxy started before it
// returns, so tests can check for leaks with go.uber.org/goleak.
package zkproxy
