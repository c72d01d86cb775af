package config_test

import (
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
)

// TestRotatorTagsHaveThePrefix: the member role may tag users only with keys that start
// with config.RotatorTagKeyPrefix; every tag the rotator writes must.
func TestRotatorTagsHaveThePrefix(t *testing.T) {
	for _, tag := range []string{rotate.NoticesTag, rotate.PendingTag, rotate.DeactivatedTag} {
		if !strings.HasPrefix(tag, config.RotatorTagKeyPrefix) {
			t.Errorf("the rotator writes user tag %s, outside %s*: the member role would be denied", tag, config.RotatorTagKeyPrefix)
		}
	}
}
