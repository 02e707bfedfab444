package payload

import (
	"math"
	"net"
	"strconv"
)

// ControlAddress is where the pod's control API answers, host:port: the payload's ip and the host port its
// control port (port, as the container sees it) is mapped to in ports. "" when the payload does not say.
func (p Payload) ControlAddress() string {
	ip, port := p.String(KeyIP), p.String(KeyPort)
	if ip == "" || port == "" {
		return ""
	}
	host, ok := p.Ports()[port]
	if !ok || host <= 0 || host > math.MaxUint16 {
		return ""
	}
	return net.JoinHostPort(ip, strconv.FormatInt(host, 10))
}
