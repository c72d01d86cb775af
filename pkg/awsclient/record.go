package awsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/keyrotator/iam-access-key-rotator/pkg/calllog"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// RecordCalls returns a copy of cfg whose clients, and those of configurations derived from
// it (AssumeRole), append each call they make as a JSON line to the file at path. Calls
// signed with credentials from an AssumeRole made through such a client name that session
// as their principal.
func RecordCalls(cfg aws.Config, path string) aws.Config {
	r := &recorder{path: path, sessions: map[string]string{}}
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, r.install)
	return cfg
}

type recorder struct {
	path     string
	mu       sync.Mutex
	sessions map[string]string // access key ID → assumed-role ARN
}

type callKey struct{}

// recorded is a call being made; signed once a request of it was signed to be sent.
type recorded struct {
	calllog.Call
	signed bool
}

func (r *recorder) install(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordCall",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			call := &recorded{Call: calllog.Call{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx),
				Region: awsmiddleware.GetRegion(ctx), Params: map[string]string{}}}
			fields(in.Parameters, &call.Call, true)
			out, md, err := next.HandleInitialize(middleware.WithStackValue(ctx, callKey{}, call), in)
			if err == nil {
				fields(out.Result, &call.Call, false)
				if assumed, ok := out.Result.(*sts.AssumeRoleOutput); ok && assumed.Credentials != nil && assumed.AssumedRoleUser != nil {
					r.mu.Lock()
					r.sessions[aws.ToString(assumed.Credentials.AccessKeyId)] = aws.ToString(assumed.AssumedRoleUser.Arn)
					r.mu.Unlock()
				}
			}
			var apiErr smithy.APIError
			if errors.As(err, &apiErr) {
				call.Error = apiErr.ErrorCode()
			}
			if !call.signed { // it never reached AWS (no credentials, say)
				return out, md, err
			}
			if werr := r.write(&call.Call); werr != nil && err == nil {
				err = werr
			}
			return out, md, err
		}), middleware.After); err != nil {
		return err
	}
	// After signing, the Authorization header names the access key the call was signed with.
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("RecordPrincipal",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			call, _ := middleware.GetStackValue(ctx, callKey{}).(*recorded)
			if req, ok := in.Request.(*smithyhttp.Request); ok && call != nil {
				_, rest, _ := strings.Cut(req.Header.Get("Authorization"), "Credential=")
				keyID, _, _ := strings.Cut(rest, "/")
				r.mu.Lock()
				call.Principal, call.signed = r.sessions[keyID], true
				r.mu.Unlock()
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

func (r *recorder) write(call *calllog.Call) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return AppendCall(r.path, *call)
}

// AppendCall appends call as a JSON line to the call log at path: what RecordCalls does for
// each SDK call, for the calls the local runner makes on the state machine's behalf without
// the SDK (a Lambda invocation, a child execution's start).
func AppendCall(path string, call calllog.Call) error {
	line, err := json.Marshal(call)
	if err != nil {
		return fmt.Errorf("record call %s %s: %w", call.Service, call.Operation, err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("record call: %w", err)
	}
	// One write per line: O_APPEND keeps the lines of concurrent processes whole.
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record call: %w", err)
	}
	return nil
}

// fields copies the calllog.Fields of an input or output struct into call, and an input's
// tag keys (an output's are tags read, not written).
func fields(v any, call *calllog.Call, input bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return
	}
	for _, name := range calllog.Fields {
		switch f := rv.FieldByName(name); {
		case !f.IsValid():
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.String && !f.IsNil():
			call.Params[name] = f.Elem().String()
		case f.Kind() == reflect.String && f.String() != "":
			call.Params[name] = f.String()
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Bool && !f.IsNil():
			call.Params[name] = strconv.FormatBool(f.Elem().Bool())
		}
	}
	if !input {
		resourceTags(rv.FieldByName("Tags"), call)
		resourceTags(rv.FieldByName("TagList"), call) // SSM ListTagsForResource
		return
	}
	if keys := rv.FieldByName("TagKeys"); keys.IsValid() && keys.Kind() == reflect.Slice && keys.Type().Elem().Kind() == reflect.String {
		for i := range keys.Len() {
			call.TagKeys = append(call.TagKeys, keys.Index(i).String())
		}
	}
	if tags := rv.FieldByName("Tags"); tags.IsValid() && tags.Kind() == reflect.Slice {
		for i := range tags.Len() {
			tag := tags.Index(i)
			if tag.Kind() == reflect.Pointer {
				tag = tag.Elem()
			}
			if key := tag.FieldByName("Key"); key.IsValid() && key.Kind() == reflect.Pointer && !key.IsNil() {
				call.TagKeys = append(call.TagKeys, key.Elem().String())
			}
		}
	}
}

// resourceTags copies into call the rotator's own tags in an output's Tags (a slice of
// structs with Key and Value).
func resourceTags(tags reflect.Value, call *calllog.Call) {
	if !tags.IsValid() || tags.Kind() != reflect.Slice || tags.Type().Elem().Kind() != reflect.Struct {
		return
	}
	for i := range tags.Len() {
		key, value := tags.Index(i).FieldByName("Key"), tags.Index(i).FieldByName("Value")
		if !key.IsValid() || !value.IsValid() || key.Kind() != reflect.Pointer || value.Kind() != reflect.Pointer || key.IsNil() || value.IsNil() {
			continue
		}
		if k := key.Elem().String(); strings.HasPrefix(k, config.RotatorTagKeyPrefix) {
			if call.ResourceTags == nil {
				call.ResourceTags = map[string]string{}
			}
			call.ResourceTags[k] = value.Elem().String()
		}
	}
}
