// Command herald-pager is Herald with one more subscription processor.
package main

import (
	_ "example.com/pager/pager"

	"github.com/herald-eventing/herald/cmd/herald/cli"
)

func main() { cli.Main() }
