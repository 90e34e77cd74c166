// Command pstest-server runs Google's fake Pub/Sub gRPC server (cloud.google.com/go/pubsub/v2/pstest)
// as a standalone process, so integration tests can use it through PUBSUB_EMULATOR_HOST.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func main() {
	address := flag.String("address", "127.0.0.1:8085", "host:port to listen on")
	flag.Parse()

	server := pstest.NewServerWithAddress(*address)
	fmt.Printf("pstest listening on %s\n", server.Addr)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	_ = server.Close()
}
