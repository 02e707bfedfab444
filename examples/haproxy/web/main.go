// Command web is the web server of the HAProxy example (examples/haproxy): it serves the files of a directory
// over HTTP on one address until SIGTERM. Ochopod renders the files from the cluster and runs it (web.yaml).
// It is Go rather than `python3 -m http.server` so that the example needs nothing the build does not.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	root := flag.String("root", ".", "directory to serve")
	flag.Parse()

	srv := &http.Server{Addr: *listen, Handler: http.FileServer(http.Dir(*root)), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("serving %s on %s", *root, *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
