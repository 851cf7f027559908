package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/community-edge/edge/gateway/internal/credential"
	"github.com/community-edge/edge/gateway/internal/store"
)

// cmdMosquittoPasswd prints a Mosquitto password file for the site: every device's login (those
// declared in the configuration and those added through the API), and the gateway's own login
// on the external broker. The hashes are the same $7$ PBKDF2-SHA512 format the embedded broker
// checks, so a site can move between the two without new device passwords.
func cmdMosquittoPasswd(args []string, stdout, stderr io.Writer) int {
	_, cfg, code := loadConfig("mosquitto-passwd", args, stderr)
	if code != 0 {
		return code
	}
	hashes := map[string]string{}
	db := filepath.Join(cfg.Path(cfg.DataDir), "gateway.db")
	if _, err := os.Stat(db); err == nil {
		st, err := store.Open(context.Background(), db)
		if err != nil {
			fmt.Fprintf(stderr, "mosquitto-passwd: %v\n", err)
			return 1
		}
		recs, _, err := st.Devices(context.Background())
		st.Close()
		if err != nil {
			fmt.Fprintf(stderr, "mosquitto-passwd: %v\n", err)
			return 1
		}
		for _, r := range recs {
			if r.PasswordHash != "" {
				hashes[r.ID] = r.PasswordHash
			}
		}
	}
	for _, d := range cfg.Devices {
		switch {
		case d.PasswordHash != "":
			hashes[d.ID] = d.PasswordHash
		case d.Password != "":
			if hashes[d.ID] != "" && credential.Verify(hashes[d.ID], d.Password) == nil {
				continue // keep the stored hash: same password
			}
			h, err := credential.Hash(d.Password)
			if err != nil {
				fmt.Fprintf(stderr, "mosquitto-passwd: %v\n", err)
				return 1
			}
			hashes[d.ID] = h
		}
	}
	if x := cfg.Broker.External; x.Username != "" && x.Password != "" {
		h, err := credential.Hash(x.Password)
		if err != nil {
			fmt.Fprintf(stderr, "mosquitto-passwd: %v\n", err)
			return 1
		}
		hashes[x.Username] = h
	}
	ids := make([]string, 0, len(hashes))
	for id := range hashes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(stdout, "%s:%s\n", id, hashes[id])
	}
	fmt.Fprintf(stderr, "%d logins; install as /etc/mosquitto/community/passwd (mode 0640, owner mosquitto) and reload Mosquitto\n", len(ids))
	return 0
}
