package workflow

import (
	"errors"
	"testing"
	"time"
)

// TestHoldInputIsStrict: hold and release requests are checked before anything is read or
// written, each problem an *InvalidInput naming its field; the days against the run's start
// and the notice period (CheckHolds).
func TestHoldInputIsStrict(t *testing.T) {
	start := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	const ok = `{"account":"111122223333","user":"ci-bot","until":"2026-12-20","reason":"INC-4711","reactivate":true}`
	tests := []struct {
		name, raw, wantField string
	}{
		{"a hold", `{"hold":[` + ok + `]}`, ""},
		{"a hold of a named key", `{"hold":[{"account":"111122223333","user":"ci-bot","accessKeyId":"AKIAIOSFODNN7EXAMPLE","until":"2026-12-07","reason":"INC-4711"}]}`, ""},
		{"a release", `{"release":[{"account":"111122223333","user":"ci-bot"}]}`, ""},
		{"the last allowed day", `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-27","reason":"x"}]}`, ""},
		{"bad account ID", `{"hold":[{"account":"1111","user":"ci-bot","until":"2026-12-20","reason":"x"}]}`, "hold[0].account"},
		{"no user", `{"hold":[{"account":"111122223333","until":"2026-12-20","reason":"x"}]}`, "hold[0].user"},
		{"not an IAM user name", `{"hold":[{"account":"111122223333","user":"ci bot","until":"2026-12-20","reason":"x"}]}`, "hold[0].user"},
		{"no reason", `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-20"}]}`, "hold[0].reason"},
		{"until not a day", `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-20T00:00:00Z","reason":"x"}]}`, "hold[0].until"},
		{"until in the past", `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-06","reason":"x"}]}`, "hold[0].until"},
		{"until beyond twice the notice period", `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-28","reason":"x"}]}`, "hold[0].until"},
		{"bad key ID", `{"hold":[{"account":"111122223333","user":"ci-bot","accessKeyId":"nope","until":"2026-12-20","reason":"x"}]}`, "hold[0].accessKeyId"},
		{"reactivate as a string", `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-20","reason":"x","reactivate":"yes"}]}`, "hold.reactivate"},
		{"unknown field", `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-20","reason":"x","days":3}]}`, "hold[0].days"},
		{"empty hold list", `{"hold":[]}`, "hold"},
		{"one user twice", `{"hold":[` + ok + `,` + ok + `]}`, "hold[1]"},
		{"held and released at once", `{"hold":[` + ok + `],"release":[{"account":"111122223333","user":"ci-bot"}]}`, "release[0]"},
		{"with a dry run", `{"dryRun":true,"hold":[` + ok + `]}`, "hold"},
		{"held account not in the run's accounts", `{"accounts":["444455556666"],"hold":[` + ok + `]}`, "hold[0].account"},
		{"release of a bad account", `{"release":[{"account":"x","user":"ci-bot"}]}`, "release[0].account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := ParseExecutionInput([]byte(tt.raw))
			if err == nil {
				err = in.CheckHolds(start, 10)
			}
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var invalid *InvalidInput
			if !errors.As(err, &invalid) || invalid.Field != tt.wantField {
				t.Fatalf("error %v (%T), want *InvalidInput for field %s", err, err, tt.wantField)
			}
		})
	}
}
