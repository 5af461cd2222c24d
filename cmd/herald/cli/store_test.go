package cli

import (
	"slices"
	"strings"
	"testing"
)

func TestNATSURLs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  string
	}{
		{"nats://h1:4222", []string{"nats://h1:4222"}, ""},
		{"nats://h1:4222,h2:4222, h3:4222", []string{"nats://h1:4222", "nats://h2:4222", "nats://h3:4222"}, ""},
		{"tls://h1:4222,h2:4222", []string{"tls://h1:4222", "tls://h2:4222"}, ""},
		{"nats://h1:4222,tls://h2:4222", []string{"nats://h1:4222", "tls://h2:4222"}, ""},
		{"h1:4222,nats://h2:4222", nil, "want nats://"},
		{"nats://h1:4222,http://h2", nil, "want nats://"},
		{" , ", nil, "no server URL"},
	} {
		got, err := natsURLs(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("natsURLs(%q) = %v, %v; want an error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("natsURLs(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}
