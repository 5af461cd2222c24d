package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-eventing/herald/transports/pull"
)

func printEvent(w io.Writer, e pull.Event) {
	fmt.Fprintf(w, "event seq=%d topic=%q instance=%q time=%q text=%q info=%q\n", e.Seq, e.Topic, e.InstanceID, e.Timestamp, e.Text, e.Info)
}

// pullCmd reads a pull subscription's events by cursor.
func pullCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var cf clientFlags
	fs := newFlags("pull", "pull ID [--cursor C] [--max N] [--follow] [flags]", stdout)
	cf.register(fs)
	cursor := fs.String("cursor", "", "the cursor the last pull printed: acknowledges the events up to it (default: the stored position)")
	max := fs.Int("max", 100, "events per request")
	follow := fs.Bool("follow", false, "keep pulling (long poll), acknowledging as it goes, until interrupted")
	wait := fs.Duration("wait", 0, "how long one request waits for events (30s with --follow)")
	id, err := fs.parseOne(args, "a subscription id")
	if err != nil {
		return err
	}
	if *max < 1 {
		return fs.usagef("--max must be at least 1")
	}
	if *follow && *wait == 0 {
		*wait = 30 * time.Second
	}
	client := cf.httpClient(*wait + cf.timeout)
	for {
		q := url.Values{"max": {strconv.Itoa(*max)}}
		if *cursor != "" {
			q.Set("cursor", *cursor)
		}
		if *wait > 0 {
			q.Set("wait", wait.String())
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cf.base()+"/subscriptions/"+url.PathEscape(id)+"/events?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return &httpError{status: resp.StatusCode, body: strings.TrimSpace(string(body))}
		}
		var pr pull.Response
		if err := json.Unmarshal(body, &pr); err != nil {
			return fmt.Errorf("unreadable answer: %w", err)
		}
		*cursor = pr.Cursor
		if cf.output.json() {
			// One object per answer: {"events": […], "cursor": C}.
			if pr.Events == nil {
				pr.Events = []pull.Event{}
			}
			if err := writeJSON(stdout, pr); err != nil {
				return err
			}
			if !*follow {
				return nil
			}
			continue
		}
		for _, e := range pr.Events {
			printEvent(stdout, e)
		}
		if !*follow {
			fmt.Fprintf(stdout, "cursor %s\n", pr.Cursor)
			return nil
		}
	}
}
