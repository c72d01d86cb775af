package awsmodel

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const defaultMaxKeys = 1000

type bucket struct {
	objects map[string]*object
}

type object struct {
	body     []byte
	etag     string
	modified time.Time
}

// CreateBucket creates an empty bucket (an existing one is kept).
func (w *World) CreateBucket(name string) {
	if w.s3[name] == nil {
		w.s3[name] = &bucket{objects: map[string]*object{}}
	}
}

// Object returns an object's body and whether it exists.
func (w *World) Object(bucketName, key string) ([]byte, bool) {
	b := w.s3[bucketName]
	if b == nil || b.objects[key] == nil {
		return nil, false
	}
	return slices.Clone(b.objects[key].body), true
}

// S3 is an S3 client of the rotator's account.
type S3 struct{ w *World }

// S3 returns an S3 client.
func (w *World) S3() *S3 { return &S3{w: w} }

func (c *S3) call(op string, in any) Call {
	return Call{Service: serviceS3, Operation: op, Account: c.w.SecretsAccount, Input: in}
}

func (c *S3) bucket(name *string) (*bucket, error) {
	b := c.w.s3[aws.ToString(name)]
	if b == nil {
		return nil, fail(404, &s3types.NoSuchBucket{Message: aws.String("The specified bucket does not exist")})
	}
	return b, nil
}

func noSuchObject() error {
	return fail(404, &s3types.NoSuchKey{Message: aws.String("The specified key does not exist.")})
}

func preconditionFailed() error {
	return generic(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
}

// sameETag compares ETags as S3 does, with or without their quotes.
func sameETag(a, b string) bool { return strings.Trim(a, `"`) == strings.Trim(b, `"`) }

// PutObject writes an object. IfNoneMatch "*" fails with 412 PreconditionFailed when the
// key exists; IfMatch fails with 412 when the ETag differs and 404 NoSuchKey when there
// is no object. The ETag is the body's quoted MD5, as S3's for a single-part upload: two
// writes of the same bytes have the same ETag.
func (c *S3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return do(c.w, c.call("PutObject", in), aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key), func() (*s3.PutObjectOutput, error) {
		b, err := c.bucket(in.Bucket)
		if err != nil {
			return nil, err
		}
		existing := b.objects[aws.ToString(in.Key)]
		switch inm := aws.ToString(in.IfNoneMatch); {
		case inm == "*" && existing != nil:
			return nil, preconditionFailed()
		case inm != "" && inm != "*":
			return nil, generic(501, "NotImplemented", "A header you provided implies functionality that is not implemented")
		}
		if in.IfMatch != nil {
			if existing == nil {
				return nil, noSuchObject()
			}
			if !sameETag(*in.IfMatch, existing.etag) {
				return nil, preconditionFailed()
			}
		}
		var body []byte
		if in.Body != nil {
			if body, err = io.ReadAll(in.Body); err != nil {
				return nil, incompleteBody(err)
			}
		}
		sum := md5.Sum(body)
		o := &object{body: body, etag: `"` + hex.EncodeToString(sum[:]) + `"`, modified: c.w.now()}
		b.objects[aws.ToString(in.Key)] = o
		return &s3.PutObjectOutput{ETag: aws.String(o.etag)}, nil
	})
}

func incompleteBody(err error) error {
	return generic(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header: "+err.Error())
}

// GetObject reads an object (NoSuchKey when missing; 412 when IfMatch differs).
func (c *S3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return do(c.w, c.call("GetObject", in), aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key), func() (*s3.GetObjectOutput, error) {
		b, err := c.bucket(in.Bucket)
		if err != nil {
			return nil, err
		}
		o := b.objects[aws.ToString(in.Key)]
		if o == nil {
			return nil, noSuchObject()
		}
		if in.IfMatch != nil && !sameETag(*in.IfMatch, o.etag) {
			return nil, preconditionFailed()
		}
		return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(slices.Clone(o.body))), ETag: aws.String(o.etag),
			ContentLength: aws.Int64(int64(len(o.body))), LastModified: aws.Time(o.modified)}, nil
	})
}

// DeleteObject deletes an object (a missing one is no error); IfMatch as for PutObject.
func (c *S3) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return do(c.w, c.call("DeleteObject", in), aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key), func() (*s3.DeleteObjectOutput, error) {
		b, err := c.bucket(in.Bucket)
		if err != nil {
			return nil, err
		}
		o := b.objects[aws.ToString(in.Key)]
		if in.IfMatch != nil {
			if o == nil {
				return nil, noSuchObject()
			}
			if !sameETag(*in.IfMatch, o.etag) {
				return nil, preconditionFailed()
			}
		}
		delete(b.objects, aws.ToString(in.Key))
		return &s3.DeleteObjectOutput{}, nil
	})
}

// ListObjectsV2 lists the keys under Prefix in UTF-8 binary order.
func (c *S3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return do(c.w, c.call("ListObjectsV2", in), aws.ToString(in.Bucket)+"/"+aws.ToString(in.Prefix), func() (*s3.ListObjectsV2Output, error) {
		b, err := c.bucket(in.Bucket)
		if err != nil {
			return nil, err
		}
		prefix := aws.ToString(in.Prefix)
		var keys []string
		for k := range b.objects {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		limit := defaultMaxKeys
		if in.MaxKeys != nil {
			limit = min(int(*in.MaxKeys), defaultMaxKeys)
		}
		start := 0
		if in.ContinuationToken != nil {
			i, err := strconv.Atoi(strings.TrimPrefix(*in.ContinuationToken, "c"))
			if err != nil || i < 0 || i > len(keys) {
				return nil, generic(400, "InvalidArgument", "The continuation token provided is incorrect")
			}
			start = i
		}
		end := min(start+max(limit, 0), len(keys))
		out := &s3.ListObjectsV2Output{Name: in.Bucket, Prefix: in.Prefix, KeyCount: aws.Int32(int32(end - start)),
			MaxKeys: aws.Int32(int32(limit)), IsTruncated: aws.Bool(end < len(keys)), ContinuationToken: in.ContinuationToken}
		if end < len(keys) {
			out.NextContinuationToken = aws.String("c" + strconv.Itoa(end))
		}
		for _, k := range keys[start:end] {
			o := b.objects[k]
			out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k), ETag: aws.String(o.etag),
				Size: aws.Int64(int64(len(o.body))), LastModified: aws.Time(o.modified), StorageClass: s3types.ObjectStorageClassStandard})
		}
		return out, nil
	})
}
