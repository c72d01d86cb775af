// Command infra is the rotator's CDK app: `cdk synth` and `cdk deploy` run it (see
// cdk.json at the repository root). Its configuration is CDK context; see package stacks.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/infra/stacks"
)

func main() {
	defer jsii.Close()
	// cdk.json runs the app in infra/, but the CLI, in the repository root, passes a
	// relative output directory (CDK_OUTDIR): resolve it from the root.
	var props awscdk.AppProps
	if out := os.Getenv("CDK_OUTDIR"); out != "" && !filepath.IsAbs(out) {
		props.Outdir = jsii.String(filepath.Join("..", out))
	}
	app := awscdk.NewApp(&props)
	cfg, err := stacks.LoadConfig(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid configuration (set it in cdk.json or with -c key=value):\n%v\n", err)
		os.Exit(1)
	}
	_, err = stacks.NewApp(app, cfg, stacks.Paths{
		LambdaAssetDir: "../build/lambda",
		DefinitionPath: "../statemachine/rotation.asl.json",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "build the CDK app: %v\n", err)
		os.Exit(1)
	}
	app.Synth(nil)
}
