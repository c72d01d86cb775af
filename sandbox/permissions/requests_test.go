package permissions

import (
	"slices"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/calllog"
)

// A GetObject or HeadObject that S3 answered NoSuchKey (NotFound) was allowed s3:ListBucket on
// the key's prefix: without it S3 answers AccessDenied for a missing key. The e2e suite's audit
// found the holds record's reader granted a ListBucket "no call used" (fresh-clone CI at
// a757de2): ScanAndRotate reads holds.json before any hold was placed.
func TestMissingObjectReadNeedsListBucketOnItsKey(t *testing.T) {
	w := where{partition: "aws"}
	for _, tc := range []struct {
		op, err  string
		wantList bool
	}{
		{"S3 GetObject", "", false},
		{"S3 GetObject", "NoSuchKey", true},
		{"S3 HeadObject", "NotFound", true},
		{"S3 GetObject", "AccessDenied", false},
	} {
		got := operations[tc.op](calllog.Call{Params: map[string]string{"Bucket": "reports", "Key": "holds.json"}, Error: tc.err}, w)
		list := slices.ContainsFunc(got, func(r Request) bool {
			return r.Action == "s3:ListBucket" && r.Resource == "arn:aws:s3:::reports" && slices.Equal(r.Context["s3:prefix"], []string{"holds.json"})
		})
		if list != tc.wantList || got[0].Action != "s3:GetObject" {
			t.Errorf("%s answered %q: requests %v, want s3:ListBucket on the key's prefix: %v", tc.op, tc.err, got, tc.wantList)
		}
	}
}
