package devices

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/store"
)

// Sealer encrypts residents' medical notes and emergency contacts at rest (*seal.Sealer is one).
// The value is bound to the device id, so it opens only on the record it was written for.
type Sealer interface {
	Seal(plain []byte, boundTo string) string
	Open(sealed, boundTo string) ([]byte, error)
}

// SetSealer makes the registry keep residents' medical notes and emergency contacts encrypted
// in the database; call it before Load. Without one they are stored in the clear.
func (r *Registry) SetSealer(s Sealer) { r.sealer = s }

// storedResident is a resident card as the database keeps it: the public fields in the clear,
// the private ones in Sealed.
type storedResident struct {
	config.Resident
	Sealed string `json:"sealed,omitempty"`
}

// privateFields are the parts of a resident card that are sealed.
type privateFields struct {
	MedicalNotes      string           `json:"medical_notes,omitempty"`
	EmergencyContacts []config.Contact `json:"emergency_contacts,omitempty"`
}

// encodeResident returns the JSON stored for a device's resident ("" for none).
func (r *Registry) encodeResident(id string, res *config.Resident) (string, error) {
	if res == nil {
		return "", nil
	}
	s := storedResident{Resident: *res}
	if r.sealer != nil && (res.MedicalNotes != "" || len(res.EmergencyContacts) > 0) {
		priv, err := json.Marshal(privateFields{MedicalNotes: res.MedicalNotes, EmergencyContacts: res.EmergencyContacts})
		if err != nil {
			return "", fmt.Errorf("device %s: resident record: %w", id, err)
		}
		s.Sealed = r.sealer.Seal(priv, id)
		s.MedicalNotes, s.EmergencyContacts = "", nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("device %s: resident record: %w", id, err)
	}
	return string(b), nil
}

// decodeResident reads a stored resident card. inClear reports private fields found
// unencrypted while a sealer is set (a record written before encryption), to be sealed again.
func (r *Registry) decodeResident(id, raw string) (res *config.Resident, inClear bool, err error) {
	if raw == "" {
		return nil, false, nil
	}
	var s storedResident
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, false, fmt.Errorf("device %s: resident record: %w", id, err)
	}
	inClear = r.sealer != nil && (s.MedicalNotes != "" || len(s.EmergencyContacts) > 0)
	if s.Sealed != "" {
		if r.sealer == nil {
			return nil, false, fmt.Errorf("device %s: resident record is encrypted and no data key is set", id)
		}
		plain, err := r.sealer.Open(s.Sealed, id)
		if err != nil {
			return nil, false, fmt.Errorf("device %s: resident record: %w", id, err)
		}
		var priv privateFields
		if err := json.Unmarshal(plain, &priv); err != nil {
			return nil, false, fmt.Errorf("device %s: resident record: %w", id, err)
		}
		s.MedicalNotes, s.EmergencyContacts = priv.MedicalNotes, priv.EmergencyContacts
	}
	return &s.Resident, inClear, nil
}

// scrubFreedPages rewrites the database after records were sealed in place, so the pages that
// held them in the clear are not left in the file: VACUUM rebuilds it, the checkpoint empties
// the write-ahead log.
func (r *Registry) scrubFreedPages(ctx context.Context, resealed int) error {
	r.log.Info("sealed residents' private data written before encryption; rewriting the database", "devices", resealed)
	for _, q := range []string{`VACUUM`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := r.st.DB().ExecContext(ctx, q); err != nil {
			return fmt.Errorf("scrub after sealing: %w", err)
		}
	}
	return nil
}

// countInClear counts stored records whose private fields are not sealed though a sealer is set.
func (r *Registry) countInClear(recs []store.Device) int {
	n := 0
	for _, rec := range recs {
		var s storedResident
		if r.sealer != nil && rec.Resident != "" && json.Unmarshal([]byte(rec.Resident), &s) == nil &&
			(s.MedicalNotes != "" || len(s.EmergencyContacts) > 0) {
			n++
		}
	}
	return n
}
