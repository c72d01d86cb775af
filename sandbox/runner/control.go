package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/calllog"
)

// The service integrations the definition uses besides Lambda.
const (
	snsPublish  = "arn:aws:states:::sns:publish"
	s3GetObject = "arn:aws:states:::s3:getObject"
	s3PutObject = "arn:aws:states:::aws-sdk:s3:putObject"
	// s3PutObjectWriter is a Distributed Map's ResultWriter resource; run.mjs writes its
	// files through s3PutObject.
	s3PutObjectWriter = "arn:aws:states:::s3:putObject"
	statesFailed      = "States.TaskFailed"
)

// control is the HTTP endpoint run.mjs hands every Task state to: POST /task with
// {"state", "resource", "input"}; the answer is {"output"} or {"error": {"error", "cause"}}.
type control struct {
	url       string
	server    *http.Server
	functions map[string]*function
	s3        *s3.Client
	sns       *sns.Client
	// callLog records the calls Step Functions makes with the state machine's role that are
	// not SDK calls here: Lambda invocations and child executions (the SDK's record themselves).
	callLog         string
	region          string
	stateMachineARN string
}

type taskRequest struct {
	State    string          `json:"state"`
	Resource string          `json:"resource"`
	Input    json.RawMessage `json:"input"`
}

type taskFailure struct {
	Error string `json:"error"`
	Cause string `json:"cause"`
}

// startControl serves the Task states with cfg, the state machine role's configuration,
// recording the calls it makes with it in callLog.
func startControl(ctx context.Context, cfg aws.Config, functions map[string]*function, callLog, stateMachineARN string) (*control, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local runner: listen: %w", err)
	}
	c := &control{url: "http://" + l.Addr().String(), functions: functions,
		s3: s3.NewFromConfig(cfg, awsclient.PathStyle), sns: sns.NewFromConfig(cfg),
		callLog: callLog, region: cfg.Region, stateMachineARN: stateMachineARN}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /task", func(w http.ResponseWriter, r *http.Request) {
		var req taskRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		output, err := c.task(ctx, req)
		answer := map[string]any{"output": output}
		if err != nil {
			f := taskFailure{Error: statesFailed, Cause: err.Error()}
			var fe *FunctionError
			if errors.As(err, &fe) {
				f = taskFailure{Error: fe.Type, Cause: fe.Message}
			}
			answer = map[string]any{"error": f}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	})
	c.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.server.Serve(l) }()
	return c, nil
}

func (c *control) close() { _ = c.server.Close() }

// startedChild records that a Distributed Map started a child execution of the state
// machine, which Step Functions does with the state machine's role (states:StartExecution).
func (c *control) startedChild() error {
	return awsclient.AppendCall(c.callLog, calllog.Call{Service: "SFN", Operation: "StartExecution", Region: c.region,
		Params: map[string]string{"StateMachineArn": c.stateMachineARN}})
}

// task carries out one Task state: a Lambda invocation, an SNS publication, an S3 write
// (the AWS SDK integration) or an ItemReader's S3 read.
func (c *control) task(ctx context.Context, req taskRequest) (json.RawMessage, error) {
	if f, ok := c.functions[req.Resource]; ok {
		if err := awsclient.AppendCall(c.callLog, calllog.Call{Service: "Lambda", Operation: "Invoke", Region: c.region,
			Params: map[string]string{"FunctionName": f.arn}}); err != nil {
			return nil, err
		}
		return f.invoke(ctx, req.Input)
	}
	switch req.Resource {
	case snsPublish:
		return c.publish(ctx, req.Input)
	case s3GetObject:
		return c.readItems(ctx, req)
	case s3PutObject:
		return c.putObject(ctx, req.Input)
	}
	return nil, fmt.Errorf("state %s: the local runner cannot run resource %s", req.State, req.Resource)
}

// publish is the sns:publish integration: its result is the service's, MessageId included.
func (c *control) publish(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
	var p struct {
		TopicArn         string
		Subject          *string
		Message          string
		MessageStructure *string
	}
	if err := json.Unmarshal(input, &p); err != nil {
		return nil, fmt.Errorf("sns:publish parameters: %w", err)
	}
	out, err := c.sns.Publish(ctx, &sns.PublishInput{TopicArn: &p.TopicArn, Subject: p.Subject, Message: &p.Message,
		MessageStructure: p.MessageStructure})
	if err != nil {
		return nil, fmt.Errorf("sns:publish to %s: %w", p.TopicArn, err)
	}
	return json.Marshal(map[string]string{"MessageId": aws.ToString(out.MessageId)})
}

// putObject is the aws-sdk:s3:putObject integration with a string Body (as
// States.JsonToString gives it). Its result is the service's: ETag and the rest.
func (c *control) putObject(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
	var p struct {
		Bucket, Key string
		Body        any
		ContentType *string
	}
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("s3:putObject parameters (the local runner takes Bucket, Key, Body and ContentType): %w", err)
	}
	body, ok := p.Body.(string)
	if !ok {
		return nil, fmt.Errorf("s3:putObject s3://%s/%s: Body must be a string (use States.JsonToString), got %T", p.Bucket, p.Key, p.Body)
	}
	out, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &p.Bucket, Key: &p.Key, Body: strings.NewReader(body), ContentType: p.ContentType})
	if err != nil {
		return nil, fmt.Errorf("s3:putObject s3://%s/%s: %w", p.Bucket, p.Key, err)
	}
	return json.Marshal(map[string]string{"ETag": aws.ToString(out.ETag)})
}

// readItems is a Distributed Map's ItemReader (ReaderConfig InputType JSON), run by run.mjs:
// the object must hold a JSON array, whose elements are the Map's items. They go to the
// child executions, never into a payload of the Map's own execution.
func (c *control) readItems(ctx context.Context, req taskRequest) (json.RawMessage, error) {
	var p struct{ Bucket, Key string }
	if err := json.Unmarshal(req.Input, &p); err != nil {
		return nil, fmt.Errorf("ItemReader parameters: %w", err)
	}
	obj, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &p.Bucket, Key: &p.Key})
	if err != nil {
		return nil, fmt.Errorf("ItemReader: read s3://%s/%s: %w", p.Bucket, p.Key, err)
	}
	defer obj.Body.Close()
	body, err := io.ReadAll(obj.Body)
	if err != nil {
		return nil, fmt.Errorf("ItemReader: read s3://%s/%s: %w", p.Bucket, p.Key, err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("ItemReader: s3://%s/%s is not a JSON array: %w", p.Bucket, p.Key, err)
	}
	return body, nil
}
