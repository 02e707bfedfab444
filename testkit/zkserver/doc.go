// Package zkserver starts real ZooKeeper servers for integration tests and demo programs.
//
// Ochopod's correctness depends on ZooKeeper's session, watch and ephemeral-node semantics, which an in-memory
// fake can only approximate, so integration tests run against the real server. This package launches the
// Debian-packaged ZooKeeper (package `zookeeper`, /usr/share/zookeeper/bin/zkServer.sh) in the foreground, one
// process group per server, with its configuration, data and logs confined to a temporary directory and every
// socket bound to 127.0.0.1.
//
// # Usage in tests
//
//	func TestIntegration_Something(t *testing.T) {
//		srv := zkserver.Start(t)                    // standalone; stopped by t.Cleanup
//		conn := dial(srv.Addr())                    // "127.0.0.1:port"
//		srv.Stop()                                  // ZooKeeper goes down...
//		if err := srv.Restart(ctx); err != nil {    // ...and comes back on the same port with the same data
//			t.Fatal(err)
//		}
//	}
//
//	ens := zkserver.StartEnsemble(t, 3)            // leader + two followers
//	connect(ens.Servers())                          // or ens.ConnectString()
//	leader, _ := ens.Leader()
//	leader.Stop()                                   // the other two elect a new leader
//	ens.WaitReady(ctx)
//
// Start and StartEnsemble skip the test when zkServer.sh is missing, unless the CI environment variable is set,
// in which case a missing ZooKeeper fails the test. Programs that are not tests use Launch and LaunchEnsemble.
//
// # How zkServer.sh is pointed at the temporary directory
//
// Debian's zkEnv.sh (a symlink to /etc/zookeeper/conf/environment) assigns ZOOCFGDIR, ZOO_LOG_DIR and CLASSPATH
// unconditionally, so the usual environment overrides have no effect. zkServer.sh does, however, accept the
// configuration file as its second argument and uses it verbatim when it is an absolute path outside ZOOCFGDIR,
// so servers run as
//
//	zkServer.sh start-foreground /tmp/.../zoo.cfg
//
// Debian's class path carries no SLF4J binding, so ZooKeeper would log nothing at all; JVMFLAGS, which the script
// appends after its own -cp, supplies a replacement -cp with the log4j 1.2 binding and -Dlog4j.configuration
// pointing at a generated log4j.properties that writes to zookeeper.log in the server directory (the JVM honours
// the last -cp). JMXDISABLE=true removes the JMX agent, whose RMI connector would otherwise listen on all
// interfaces. Environment variables that the script does honour (ZOO_NOEXEC, ZOOPIDFILE,
// ZOO_DATADIR_AUTOCREATE_DISABLE, JMXPORT, ...) are set or scrubbed so that the caller's environment cannot change
// how the server runs. The one side effect outside the directory is the script's own `mkdir -p /var/log/zookeeper`,
// which it attempts before ZooKeeper starts and which nothing then writes to.
//
// # Readiness
//
// ZooKeeper offers no readiness signal, so Launch polls the `srvr` four-letter word with a short backoff until the
// server reports a serving mode (standalone, or leader/follower in an ensemble), failing early with the tail of the
// server's log if the process exits. OCHOPOD_ZK_SCRIPT overrides the script path.
package zkserver
