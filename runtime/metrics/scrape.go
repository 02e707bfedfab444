package metrics

import (
	"fmt"
	"io"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Scrape is a /metrics page read back with the Prometheus text parser: for tests, benchmarks and tools.
type Scrape map[string]*dto.MetricFamily

// ParseText reads the Prometheus text format.
func ParseText(r io.Reader) (Scrape, error) {
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return Scrape(fams), nil
}

// Value sums the series of name whose labels include the given name, value pairs: a counter's or gauge's
// value, a histogram's count of observations. -1 when no series matches.
func (s Scrape) Value(name string, labels ...string) float64 {
	total, found := 0.0, false
	for _, m := range s[name].GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if !found {
		return -1
	}
	return total
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		ok := false
		for _, l := range m.GetLabel() {
			ok = ok || (l.GetName() == pairs[i] && l.GetValue() == pairs[i+1])
		}
		if !ok {
			return false
		}
	}
	return true
}
