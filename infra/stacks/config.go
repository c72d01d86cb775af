package stacks

import "github.com/keyrotator/iam-access-key-rotator/pkg/config"

// Config is the validated configuration of the rotator, read from CDK context (cdk.json
// defaults, `-c key=value` overrides): config.Table describes every key, its default and
// its valid values.
type Config = config.Deployment

// LoadConfig reads and validates every context key through get, which returns nil for a
// key that is not set. It reports every invalid key at once, each error naming its key.
func LoadConfig(get func(key string) any) (Config, error) { return config.LoadDeployment(get) }
