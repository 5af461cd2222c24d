package eventing_test

import (
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
)

func TestPublishOperatorEvent(t *testing.T) {
	e := newEnv(t, "", eventing.Options{Authorize: true})
	defer e.stop()
	// Publish refuses herald.* to everyone, admins too.
	admin := access.WithPrincipal(t.Context(), &access.Principal{Name: "root", Role: access.Admin})
	if _, err := e.svc.Publish(admin, &eventing.Message{Topic: "herald.presence.changed"}); err == nil {
		t.Fatal("Publish accepted a herald.* topic")
	}
	// Herald's own components publish there, and only there.
	ev, err := e.svc.PublishOperatorEvent(t.Context(), &eventing.Message{Topic: "herald.presence.changed", InstanceID: "i-1", Text: "i-1: unknown → up"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Seq != e.svc.Head() || ev.Topic != "herald.presence.changed" {
		t.Errorf("event %+v", ev)
	}
	if _, err := e.svc.PublishOperatorEvent(t.Context(), &eventing.Message{Topic: "orders"}); err == nil {
		t.Error("PublishOperatorEvent accepted a topic outside herald.*")
	}
}
