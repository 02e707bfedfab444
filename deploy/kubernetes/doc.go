// Package kubernetes holds the Kubernetes manifests of deploy/kubernetes (README.md there) and the test that
// reads them: every manifest parses, and every container running `ochopod run` gets the environment the
// kubernetes binding (runtime/binding) needs, probes on /healthz and /readyz, its spec and the token file.
package kubernetes
