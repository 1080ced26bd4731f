package runccli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pelagos-go/pelagos/internal/container"
)

func newList(g *globals) *command {
	var format string
	var quiet bool
	cmd := &command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "list containers",
		Args:    noArgs,
		RunE: func(cmd *command, args []string) error {
			cs, err := container.List(g.root)
			if err != nil {
				return err
			}
			if quiet {
				for _, c := range cs {
					fmt.Println(c.ID())
				}
				return nil
			}
			infos := make([]container.Info, 0, len(cs))
			for _, c := range cs {
				infos = append(infos, c.Info())
			}
			switch format {
			case "json":
				return json.NewEncoder(os.Stdout).Encode(infos)
			case "table", "":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, i := range infos {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", i.ID, i.Pid, i.Status, i.Bundle, i.Created.Format(time.RFC3339Nano), i.Owner)
				}
				return w.Flush()
			}
			return fmt.Errorf("--format %q: use table or json", format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the IDs")
	return cmd
}

func newPs(g *globals) *command {
	var format string
	cmd := &command{
		Use:   "ps [flags] <container-id> [ps options]",
		Short: "list the processes in a container",
		Args:  minArgs(1),
		RunE: func(cmd *command, args []string) error {
			c, err := container.Load(g.root, args[0])
			if err != nil {
				return err
			}
			pids, err := c.Processes()
			if err != nil {
				return err
			}
			switch format {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(os.Stdout).Encode(pids)
			case "table", "":
				return psTable(pids, args[1:])
			}
			return fmt.Errorf("--format %q: use table or json", format)
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	return cmd
}

// psTable runs ps(1) with the given options (default -ef) and keeps the
// header and the lines of the container's processes.
func psTable(pids []int, psArgs []string) error {
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	s := bufio.NewScanner(bytes.NewReader(out))
	if !s.Scan() {
		return nil
	}
	header := s.Text()
	col := -1
	for i, f := range strings.Fields(header) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps output has no PID column")
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	fmt.Println(header)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) <= col {
			continue
		}
		if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
			fmt.Println(s.Text())
		}
	}
	return s.Err()
}
