package daemon

import (
	"github.com/community-edge/edge/gateway/internal/alarm"
	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/setup"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/uplink"
	"github.com/community-edge/edge/gateway/internal/users"
)

// Migrators are the migrations of every package that keeps tables in the gateway's store, as
// New applies them (the store's own run in store.Open); a command that prepares a database
// without starting the gateway (restore) applies them all.
func Migrators() []store.Migrator {
	return []store.Migrator{audit.Migrations, users.Migrations, alarm.Migrations, uplink.Migrations, setup.Migrations}
}
