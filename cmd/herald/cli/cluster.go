package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/jetstream"
)

// A clusterNode is what a Herald node on a shared JetStream store runs
// beside its service: the watch that brings other nodes' subscription
// changes, and the partition leases that decide what it delivers.
type clusterNode struct {
	leases *jetstream.Leases
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// nodeName is --node, or the host name and the listen port: unique among
// nodes on one machine, and the same across a restart with the same
// flags.
func nodeName(flag string, addr net.Addr) string {
	if flag != "" {
		return flag
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "herald"
	}
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return fmt.Sprintf("%s-%d", host, tcp.Port)
	}
	return host
}

// joinCluster starts the watch of subscriptions from revision rev+1 and
// the partition leases, whose decisions reach svc's dispatcher through a
// PartitionFeed. Call it after svc.Start.
func joinCluster(ctx context.Context, st *jetstream.Store, svc *eventing.Service, cfg *serveConfig, rev uint64, addr net.Addr, logger *slog.Logger) (*clusterNode, error) {
	cctx, cancel := context.WithCancel(context.Background())
	n := &clusterNode{cancel: cancel, logger: logger, done: make(chan struct{})}
	if err := st.WatchSubscriptions(cctx, rev+1, func(id string, sub *eventing.Subscription) {
		svc.SubscriptionChanged(cctx, id, sub)
	}); err != nil {
		cancel()
		return nil, err
	}
	feed := eventing.NewPartitionFeed(svc.Dispatcher(), svc.Clock(), logger)
	go func() {
		defer close(n.done)
		feed.Run(cctx)
	}()
	name := nodeName(cfg.node, addr)
	leases, err := st.Leases(ctx, jetstream.LeaseOptions{
		Node: name, Partitions: cfg.partitions, TTL: cfg.leaseTTL, Clock: svc.Clock(), Logger: logger,
		Acquired: feed.Acquired, Released: feed.Released, Handover: feed.Handover,
	})
	if err != nil {
		cancel()
		<-n.done
		return nil, err
	}
	n.leases = leases
	logger.Info("joined the Herald nodes on the store", slog.String("node", name), slog.Int("partitions", cfg.partitions), slog.Duration("lease_ttl", cfg.leaseTTL))
	return n, nil
}

// leave hands the node's partitions over at once (so that the others need
// not wait for the leases to lapse) and stops the watch.
func (n *clusterNode) leave(ctx context.Context) {
	if err := n.leases.Close(ctx); err != nil {
		n.logger.Warn("cannot hand the partitions over; the other nodes take them when the leases lapse", slog.Any("err", err))
	}
	n.cancel()
	<-n.done
}
