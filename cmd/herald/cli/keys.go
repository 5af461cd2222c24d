package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/transports/keyapi"
)

// keysSummaries are the keys subcommands' summaries.
var keysSummaries = map[string]string{
	"keys create": "create an API key; prints it (shown only this once)",
	"keys list":   "list the API keys (names, roles, topics; never the keys)",
	"keys revoke": "revoke an API key by name",
}

// keysCmd is herald keys create|list|revoke: key management on a running
// server, with an admin key.
func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"create": keysCreate, "list": keysList, "revoke": keysRevoke,
	}
	if len(args) > 0 && sub[args[0]] != nil {
		return sub[args[0]](ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stdout, "Usage: herald keys create --role admin|subscriber|publisher [--topics P,…] [--name N] [flags]")
		fmt.Fprintln(stdout, "       herald keys list [flags]")
		fmt.Fprintln(stdout, "       herald keys revoke NAME [flags]")
		fmt.Fprintln(stdout, "\nEach talks to a running server with an admin key (--key, HERALD_KEY or HERALD_ADMIN_KEY).")
		fmt.Fprintln(stdout, "Run 'herald help keys create' (list, revoke) for the flags of each.")
		return flag.ErrHelp
	}
	if len(args) == 0 {
		return usagef("keys", "give a subcommand: create, list or revoke")
	}
	return usagef("keys", "unknown subcommand %q of keys (create, list or revoke)", args[0])
}

// adminFlags registers the client flags; the key defaults to
// HERALD_ADMIN_KEY when HERALD_KEY is not set.
func adminFlags(fs *flagSet) *clientFlags {
	var cf clientFlags
	cf.register(fs)
	cf.adminFallback = true
	return &cf
}

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys create", "keys create --role ROLE [--topics P,…] [--name N] [flags]", stdout)
	cf := adminFlags(fs)
	role := fs.String("role", "", "admin, subscriber or publisher")
	topics := fs.String("topics", "", "comma-separated topic patterns the key is limited to (* one segment, > the rest); none: every topic")
	name := fs.String("name", "", "the key's name (default: generated); subscriptions record it as their owner")
	if err := fs.parseNone(args); err != nil {
		return err
	}
	if *role == "" {
		return fs.usagef("--role is required")
	}
	if _, err := access.ParseRole(*role); err != nil {
		return fs.usagef("--role: %v", err)
	}
	pats, err := access.ParsePatterns(*topics)
	if err != nil {
		return fs.usagef("--topics: %v", err)
	}
	req := keyapi.CreateRequest{Name: *name, Role: *role, Topics: []string{}}
	for _, p := range pats {
		req.Topics = append(req.Topics, string(p))
	}
	var k keyapi.Key
	if err := cf.keysCall(ctx, http.MethodPost, "/keys", req, http.StatusCreated, &k); err != nil {
		return err
	}
	scope := "every topic"
	if len(k.Topics) > 0 {
		scope = strings.Join(k.Topics, ", ")
	}
	fmt.Fprintf(stderr, "created %s key %q for %s; it is shown only now, keep it safe\n", k.Role, k.Name, scope)
	return cf.output.emit(stdout, k, func() error {
		_, err := fmt.Fprintln(stdout, k.Key)
		return err
	})
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys list", "keys list [flags]", stdout)
	cf := adminFlags(fs)
	if err := fs.parseNone(args); err != nil {
		return err
	}
	keys := []keyapi.Key{}
	if err := cf.keysCall(ctx, http.MethodGet, "/keys", nil, http.StatusOK, &keys); err != nil {
		return err
	}
	return cf.output.emit(stdout, map[string]any{"keys": keys}, func() error {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tTOPICS\tCREATED")
		for _, k := range keys {
			topics := strings.Join(k.Topics, ",")
			if topics == "" {
				topics = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Role, topics, k.Created.Format("2006-01-02T15:04:05Z"))
		}
		return tw.Flush()
	})
}

func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys revoke", "keys revoke NAME [flags]", stdout)
	cf := adminFlags(fs)
	name, err := fs.parseOne(args, "a key name")
	if err != nil {
		return err
	}
	if err := cf.keysCall(ctx, http.MethodDelete, "/keys/"+url.PathEscape(name), nil, http.StatusNoContent, nil); err != nil {
		return err
	}
	if cf.output.json() {
		return writeJSON(stdout, map[string]any{"name": name, "revoked": true})
	}
	fmt.Fprintf(stderr, "revoked key %q\n", name)
	return nil
}

// keysCall sends one request to the key API and decodes the answer.
func (c *clientFlags) keysCall(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base()+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient(c.timeout).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return &httpError{status: resp.StatusCode, body: strings.TrimSpace(string(data))}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}
