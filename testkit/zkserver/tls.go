package zkserver

import "strconv"

// FreePort returns a port free on 127.0.0.1 now, for WithTLS.
func FreePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// nettyJars are the Debian jars ZooKeeper's Netty connection factory needs; Debian's zkServer.sh class path
// lacks netty-codec among them.
func nettyJars() []string {
	var out []string
	for _, j := range []string{"buffer", "codec", "common", "handler", "resolver", "transport",
		"transport-native-epoll", "transport-native-unix-common"} {
		out = append(out, "/usr/share/java/netty-"+j+".jar")
	}
	return out
}

// TLS is a secure client port (DESIGN §12's --zk-tls-*): ZooKeeper 3.8 serves TLS only through Netty and reads
// PEM key and trust stores.
type TLS struct {
	Port       int    // the secure client port on 127.0.0.1 (FreePort gives one)
	KeyStore   string // PEM: the server's private key (PKCS#8) followed by its certificate chain
	TrustStore string // PEM: the CA certificates client certificates are verified with
	ClientAuth string // "none" (default), "want" or "need"
}

// WithTLS opens a secure client port next to the plain one (which keeps serving, for the four-letter words).
// The server runs with the Debian class path plus the Netty jars, and NettyServerCnxnFactory.
func WithTLS(t TLS) Option {
	return func(c *Config) {
		if t.ClientAuth == "" {
			t.ClientAuth = "none"
		}
		c.ClassPath = append(append(append([]string{}, debianLogClassPath()...), nettyJars()...), c.ClassPath...)
		for k, v := range map[string]string{
			"serverCnxnFactory":       "org.apache.zookeeper.server.NettyServerCnxnFactory",
			"secureClientPort":        strconv.Itoa(t.Port),
			"secureClientPortAddress": "127.0.0.1",
			"ssl.keyStore.location":   t.KeyStore,
			"ssl.keyStore.type":       "PEM",
			"ssl.trustStore.location": t.TrustStore,
			"ssl.trustStore.type":     "PEM",
			"ssl.clientAuth":          t.ClientAuth,
		} {
			WithSetting(k, v)(c)
		}
	}
}
