package zkserver

import (
	"errors"
	"fmt"
	"net"
)

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment ago. All n listeners are held open until
// every port is known, so the ports are distinct; they are then released for ZooKeeper to bind. Another process can
// grab one in between, which is why Launch retries on "Address already in use".
func freePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("zkserver: reserve a free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, l)
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return nil, errors.New("zkserver: listener on 127.0.0.1 has no TCP address")
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}
