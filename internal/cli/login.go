package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/image/reference"
)

func addLoginCommands(root *cobra.Command, g *globals) {
	root.AddCommand(newLoginCmd(g), newLogoutCmd(g))
}

func newLoginCmd(g *globals) *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [SERVER]",
		Short: "Log in to a registry (credentials are verified before they are saved)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, s, err := g.registry() // before the prompts: pelagos hands the command off
			if err != nil {
				return err
			}
			host := reference.DefaultDomain
			if len(args) == 1 {
				host = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(args[0], "https://"), "http://"), "/")
			}
			if passwordStdin {
				if password != "" {
					return fmt.Errorf("--password and --password-stdin are mutually exclusive")
				}
				b, err := io.ReadAll(io.LimitReader(g.in, 64<<10))
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" || password == "" {
				in := bufio.NewReader(g.in)
				if user == "" {
					fmt.Fprint(g.out, "Username: ")
					line, _ := in.ReadString('\n')
					user = strings.TrimSpace(line)
				}
				if password == "" {
					fmt.Fprint(g.out, "Password: ")
					line, _ := in.ReadString('\n')
					password = strings.TrimRight(line, "\r\n")
				}
			}
			if user == "" || password == "" {
				return fmt.Errorf("username and password are required")
			}
			if err := r.Verify(cmd.Context(), s, host, user, password); err != nil {
				return fmt.Errorf("login %s: %w", host, err)
			}
			if err := r.SaveCredentials(host, user, password); err != nil {
				return err
			}
			fmt.Fprintln(g.out, "Login Succeeded")
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

func newLogoutCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _, err := g.registry()
			if err != nil {
				return err
			}
			host := reference.DefaultDomain
			if len(args) == 1 {
				host = args[0]
			}
			had, err := r.EraseCredentials(host)
			if err != nil {
				return err
			}
			if !had {
				fmt.Fprintf(g.out, "Not logged in to %s\n", host)
				return nil
			}
			fmt.Fprintf(g.out, "Removing login credentials for %s\n", host)
			return nil
		},
	}
}
