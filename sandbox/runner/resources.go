package runner

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
)

// Resources are the rotator's own resources in the management account of the stand-in, as
// the CDK app would create them.
type Resources struct {
	Bucket   string
	TopicARN string
}

// ensureResources creates the report bucket, and the failure topic, or
// finds them from an earlier run on the same stand-in.
func ensureResources(ctx context.Context, cfg aws.Config, accountID string) (Resources, error) {
	res := Resources{Bucket: "keyrotator-reports-" + accountID}
	s3c := s3.NewFromConfig(cfg, awsclient.PathStyle)
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &res.Bucket}); err != nil {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &res.Bucket}); err != nil {
			return res, fmt.Errorf("create report bucket %s: %w", res.Bucket, err)
		}
	}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keyrotator-failures")})
	if err != nil {
		return res, fmt.Errorf("create failure topic: %w", err)
	}
	res.TopicARN = aws.ToString(topic.TopicArn)

	return res, nil
}

// EnsureResources creates (once) the rotator's resources on the stand-in at endpoint, as
// Run does, and returns them.
func EnsureResources(ctx context.Context, endpoint string) (Resources, error) {
	_, _, res, err := standIn(ctx, endpoint)
	return res, err
}
