package registry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DockerHubAuthKey is the key Docker's credential store files Docker
// Hub credentials under.
const DockerHubAuthKey = "https://index.docker.io/v1/"

// credentialKey is where host's credentials are filed.
func credentialKey(host string) string {
	if host == "docker.io" || host == name.DefaultRegistry {
		return DockerHubAuthKey
	}
	return host
}

// Verify checks user and password against host: a token exchange for a
// bearer-token registry, an authenticated GET /v2/ for a basic one.
func (c *Client) Verify(ctx context.Context, host, user, password string) error {
	if host == "docker.io" {
		host = name.DefaultRegistry
	}
	opts := []name.Option{name.StrictValidation}
	insecure := c.Config.IsInsecure(host)
	if insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return err
	}
	auth := &authn.Basic{Username: user, Password: password}
	rt, err := transport.NewWithContext(ctx, reg, auth, c.Transport(insecure), nil)
	if err != nil {
		return describe(host, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return describe(host, err)
	}
	return checkResponse(host, resp, http.StatusOK)
}

// SaveCredentials stores credentials for host in Docker's credential
// store (config.json under $DOCKER_CONFIG or ~/.docker, or the
// credential helper it names), where pulls and docker itself find them.
func SaveCredentials(host, user, password string) error {
	cf, err := config.Load(config.Dir())
	if err != nil {
		return err
	}
	key := credentialKey(host)
	if err := cf.GetCredentialsStore(key).Store(types.AuthConfig{ServerAddress: key, Username: user, Password: password}); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return cf.Save()
}

// EraseCredentials removes host's credentials; it reports whether there
// were any.
func EraseCredentials(host string) (bool, error) {
	cf, err := config.Load(config.Dir())
	if err != nil {
		return false, err
	}
	key := credentialKey(host)
	if a, err := cf.GetAuthConfig(key); err != nil || (a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.Auth == "") {
		return false, err
	}
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return false, err
	}
	return true, cf.Save()
}
