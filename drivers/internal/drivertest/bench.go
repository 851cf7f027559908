package drivertest

import (
	"testing"
)

// BenchCase is one message to decode repeatedly.
type BenchCase struct {
	Name    string
	Topic   string
	Payload string
}

// Bench decodes each case through the registry, as the gateway does, in a sub-benchmark
// that reports decoded messages per second.
func (s *Suite) Bench(b *testing.B, cases []BenchCase) {
	for _, c := range cases {
		payload := []byte(c.Payload)
		if _, err := s.Registry.Decode(c.Topic, payload); err != nil {
			b.Fatalf("%s: %v", c.Name, err)
		}
		b.Run(c.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := s.Registry.Decode(c.Topic, payload); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
