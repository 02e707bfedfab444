package main

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// benchClient keeps connections alive, as a monitoring system and the leader do.
var benchClient = &http.Client{Timeout: 10 * time.Second} //nolint:gochecknoglobals // shared keep-alive connections

// scraper GETs /metrics of every pod every second, as a Prometheus server would, until closed.
type scraper struct {
	mu       sync.Mutex
	pods     []*podProcess
	scrapes  int
	failures int
	stop     chan struct{}
	done     chan struct{}
}

// startScraper starts the scraper's goroutine; close ends it.
func startScraper(b *testing.B) *scraper {
	s := &scraper{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			s.mu.Lock()
			pods := append([]*podProcess(nil), s.pods...)
			s.mu.Unlock()
			for _, p := range pods {
				ok := p.alive() && scrapeOnce(p)
				s.mu.Lock()
				if ok {
					s.scrapes++
				} else if p.alive() {
					s.failures++
				}
				s.mu.Unlock()
			}
		}
	}()
	b.Cleanup(s.close)
	return s
}

func scrapeOnce(p *podProcess) bool {
	res, err := benchClient.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.port))
	if err != nil {
		return false
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return err == nil && res.StatusCode == http.StatusOK
}

// set replaces the pods scraped.
func (s *scraper) set(pods []*podProcess) {
	s.mu.Lock()
	s.pods = append(s.pods[:0], pods...)
	s.mu.Unlock()
}

func (s *scraper) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// counts returns the scrapes done and failed so far.
func (s *scraper) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scrapes, s.failures
}
