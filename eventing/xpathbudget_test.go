package eventing

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/antchfx/xpath"
)

var budgetNS = map[string]string{"m": MessageNS}

// diskEvent is a typical message; bigDiskEvent the same with a 64 KiB text
// (the message endpoint's default limit on a whole message).
var (
	diskEvent = NewEvent(1, time.Now(), Message{Topic: "disk", InstanceID: "i-0b1e0b1e",
		Timestamp: "2026-03-01T12:00:00Z", Text: "/var is 97% full on db-7", Info: "eu-west-1"})
	bigDiskEvent = NewEvent(2, time.Now(), Message{Topic: "disk", InstanceID: "i-0b1e0b1e",
		Timestamp: "2026-03-01T12:00:00Z", Text: strings.Repeat("/var is 97% full on db-7 ", 64<<10/25), Info: "eu-west-1"})
)

func mustXPath(t testing.TB, expr string) *xpathFilter {
	t.Helper()
	f, err := newXPathFilter(expr, budgetNS)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return f
}

// TestFilterBudget_Realistic measures the steps realistic filters take,
// the measurement behind DefaultFilterBudget: at most a few hundred on a
// typical message, a few thousand when the text is 64 KiB.
func TestFilterBudget_Realistic(t *testing.T) {
	var topics []string
	for i := range 30 {
		topics = append(topics, fmt.Sprintf("m:topic='t%d'", i))
	}
	for _, expr := range []string{
		"/m:message[m:topic='disk']",
		"/m:message/m:topic='disk'",
		"/m:message[m:topic='disk' and contains(m:text, 'full')]",
		"//m:info",
		"contains(//m:text, 'wind') and count(/m:message/*) = 4",
		"/m:message[(m:topic='disk' or m:topic='cpu') and starts-with(m:instanceId, 'i-') and not(contains(m:info, 'test'))]",
		"//m:text[contains(., 'full')] and //m:info[. = 'eu-west-1'] and //m:topic = 'disk'",
		"/m:message[" + strings.Join(topics, " or ") + "]",
		"string(/) != ''",
	} {
		f := mustXPath(t, expr)
		_, small, err := f.evaluate(diskEvent, DefaultFilterBudget)
		if err != nil {
			t.Fatal(err)
		}
		_, big, err := f.evaluate(bigDiskEvent, DefaultFilterBudget)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%5d steps, %5d with a 64 KiB text: %.70s", small, big, expr)
		if small > DefaultFilterBudget/100 || big > DefaultFilterBudget/10 {
			t.Errorf("%s takes %d steps (%d on a 64 KiB text): too close to the budget of %d", expr, small, big, DefaultFilterBudget)
		}
	}
}

func TestFilterBudget_Exhausted(t *testing.T) {
	f := mustXPath(t, "/m:message[m:topic='disk' and contains(m:text, 'full')]")
	ok, used, err := f.evaluate(diskEvent, 5)
	if ok || !errors.Is(err, ErrFilterBudget) || used != 5 {
		t.Fatalf("evaluate within 5 steps = %v, %d, %v; want false, 5, ErrFilterBudget", ok, used, err)
	}
	if !strings.Contains(err.Error(), "5 steps") {
		t.Errorf("error %q does not name the budget", err)
	}
	// The stopped expression was dropped: the next evaluation is whole.
	for range 3 {
		if ok, err := f.Match(diskEvent); !ok || err != nil {
			t.Fatalf("Match after an exhausted budget = %v, %v; want true", ok, err)
		}
	}
}

// TestFilterBudget_Unwinds checks that the library stops soon after the
// budget runs out: the steps refused after it are a handful, whatever the
// budget, so an exhausted evaluation costs no more than its budget.
func TestFilterBudget_Unwinds(t *testing.T) {
	for _, expr := range []string{
		"count(//node()[count(//node()[count(//node()[count(//node()[count(//node())>0])>0])>0])>0])>0",
		"count(//node()[count(//node()[count(//node()[count(//node()|//node())>0])>0])>0])>0",
		"count(//node()[count(//node()[count(//node()[count(//node()[.=.])>0])>0])>0])>0",
		"count(//*[count(ancestor-or-self::node()[count(following::node() | preceding::node())>0])>0]) > 0 and //*[last()]",
	} {
		for _, budget := range []int{100, 10_000, DefaultFilterBudget} {
			x, err := xpath.CompileWithNS(expr, budgetNS)
			if err != nil {
				t.Fatal(err)
			}
			nav := newNavigator(diskEvent.Document(), budget)
			st := nav.ev
			truth(x.Evaluate(nav))
			if !st.exhausted() {
				continue // not expensive enough for this budget
			}
			if over := -st.left; over > 100 {
				t.Errorf("%s: %d steps refused after a budget of %d", expr, over, budget)
			}
		}
	}
}

// TestFilterPanic: a panic in the library is an error, and the filter
// keeps working.
func TestFilterPanic(t *testing.T) {
	// CompileFilter refuses a computed matches() pattern; the library
	// panics on one that is not a regular expression.
	f := mustXPath(t, "/m:message[matches(m:text, string(m:info))]")
	bad := NewEvent(3, time.Now(), Message{Topic: "disk", Text: "full", Info: "(unclosed"})
	ok, err := f.Match(bad)
	if ok || !errors.Is(err, ErrFilterPanic) || errors.Is(err, ErrFilterBudget) {
		t.Fatalf("Match = %v, %v; want false, ErrFilterPanic", ok, err)
	}
	good := NewEvent(4, time.Now(), Message{Topic: "disk", Text: "disk full", Info: "f.ll"})
	if ok, err := f.Match(good); !ok || err != nil {
		t.Fatalf("Match after a panic = %v, %v; want true", ok, err)
	}
}

// expensiveFilters compile (they nest at most MaxFilterDepth deep) but
// take far more than DefaultFilterBudget steps on a message.
var expensiveFilters = []string{
	// 146,401 steps
	"count(//node()[count(//node()[count(//node()[count(//node()[.=.])>0])>0])>0])>0",
	// 409,939 steps
	"count(//node()[count(//node()[count(//node()[count(//node()|//node())>0])>0])>0])>0",
	// 151,725 steps
	"count(//node()[count(//node()[count(//node()[count(//node())+count(//node())+count(//node())>0])>0])>0])>0",
}

func TestMatch_ExpensiveFilterStopped(t *testing.T) {
	for _, expr := range expensiveFilters {
		f, err := CompileFilter(&FilterSpec{Dialect: DialectXPath10, Expression: expr, Namespaces: budgetNS})
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		ok, err := f.Match(diskEvent)
		if ok || !errors.Is(err, ErrFilterBudget) {
			t.Errorf("%s: Match = %v, %v; want false, ErrFilterBudget", expr, ok, err)
			continue
		}
		if want := fmt.Sprintf("%d steps", DefaultFilterBudget); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the budget (%s)", err, want)
		}
	}
}
