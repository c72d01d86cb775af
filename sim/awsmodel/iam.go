package awsmodel

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// The services' IDs, as the SDK names them in errors.
const (
	serviceIAM     = "IAM"
	serviceSecrets = "Secrets Manager"
	serviceSES     = "SESv2"
	serviceS3      = "S3"
)

// IAM's documented quotas and defaults.
const (
	maxKeysPerUser  = 2
	maxTagsPerUser  = 50
	maxTagKeyLen    = 128
	maxTagValueLen  = 256
	defaultMaxItems = 100
	maxMaxItems     = 1000
)

// tagChars is the character set IAM allows in tag keys and values.
var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

type account struct {
	id      string
	created time.Time
	users   map[string]*user
	names   []string // sorted, for listing
	keys    map[string]*key
	report  credentialReport
	// documentedCase: the credential report writes TRUE/FALSE (DocumentedReportCase).
	documentedCase bool
	// params are the account's SSM parameters, by name (ssm.go).
	params map[string]*parameter
}

type user struct {
	name, id string
	created  time.Time
	tags     []types.Tag // in the order they were added
	keys     []*key      // in creation order
	// gone are deleted keys that ListAccessKeys still shows until goneAt.
	gone []*key
}

type key struct {
	id, secret, user string
	status           types.StatusType
	created          time.Time
	visibleAt        time.Time // ListAccessKeys lists the key from then on
	goneAt           time.Time // for a deleted key: listed until then
	lastUsed         *time.Time
	service, region  string
}

func (w *World) account(id string) *account {
	a := w.accounts[id]
	if a == nil {
		a = &account{id: id, created: w.now(), users: map[string]*user{}, keys: map[string]*key{}}
		w.accounts[id] = a
	}
	return a
}

func (a *account) userARN(name string) string { return "arn:aws:iam::" + a.id + ":user/" + name }

func noSuchUser(name string) error {
	return fail(404, &types.NoSuchEntityException{Message: aws.String("The user with name " + name + " cannot be found.")})
}

func noSuchKey(id string) error {
	return fail(404, &types.NoSuchEntityException{Message: aws.String("The Access Key with id " + id + " cannot be found.")})
}

func invalidInput(format string, args ...any) error {
	return fail(400, &types.InvalidInputException{Message: aws.String(fmt.Sprintf(format, args...))})
}

func limitExceeded(format string, args ...any) error {
	return fail(409, &types.LimitExceededException{Message: aws.String(fmt.Sprintf(format, args...))})
}

func (a *account) user(name *string) (*user, error) {
	if name == nil || *name == "" {
		// AWS would act on the caller's own user; the model has none.
		return nil, invalidInput("UserName is required")
	}
	u := a.users[*name]
	if u == nil {
		return nil, noSuchUser(*name)
	}
	return u, nil
}

// keyOf finds a key by ID, of the named user when a name is given.
func (a *account) keyOf(userName *string, id *string) (*key, error) {
	k := a.keys[aws.ToString(id)]
	if k == nil || (userName != nil && k.user != *userName) {
		if userName != nil && a.users[*userName] == nil {
			return nil, noSuchUser(*userName)
		}
		return nil, noSuchKey(aws.ToString(id))
	}
	return k, nil
}

// --- Owner-side methods: no faults, not observed. ---

// CreateUser creates an IAM user with tags (EntityAlreadyExists when a user of that name,
// in any case, exists: IAM names are case-insensitive).
func (w *World) CreateUser(accountID, name string, tags map[string]string) error {
	a := w.account(accountID)
	for _, n := range a.names {
		if strings.EqualFold(n, name) {
			return fail(409, &types.EntityAlreadyExistsException{Message: aws.String("User with name " + name + " already exists.")})
		}
	}
	u := &user{name: name, id: "AIDA" + w.randomString(upperAlnum, 17), created: w.now()}
	if err := u.tag(mapTags(tags)); err != nil {
		return err
	}
	a.users[name] = u
	i, _ := slices.BinarySearch(a.names, name)
	a.names = slices.Insert(a.names, i, name)
	return nil
}

// DeleteUser removes a user and its keys (an owner leaving; AWS would first require the
// keys to be deleted).
func (w *World) DeleteUser(accountID, name string) error {
	a := w.account(accountID)
	u, err := a.user(&name)
	if err != nil {
		return err
	}
	for _, k := range u.keys {
		delete(a.keys, k.id)
	}
	delete(a.users, name)
	i, _ := slices.BinarySearch(a.names, name)
	a.names = slices.Delete(a.names, i, i+1)
	return nil
}

// AddKey gives a user a new access key created at created (it may be back-dated), with
// status Active or Inactive; LimitExceeded when the user has two keys. ListAccessKeys
// lists it ConsistencyDelay after now, whatever its creation date.
func (w *World) AddKey(accountID, userName string, created time.Time, status types.StatusType) (id, secretKey string, err error) {
	a := w.account(accountID)
	u, err := a.user(&userName)
	if err != nil {
		return "", "", err
	}
	k, err := w.newKey(a, u, created.UTC())
	if err != nil {
		return "", "", err
	}
	k.status = status
	return k.id, k.secret, nil
}

func (w *World) newKey(a *account, u *user, created time.Time) (*key, error) {
	if len(u.keys) >= maxKeysPerUser {
		return nil, limitExceeded("Cannot exceed quota for AccessKeysPerUser: %d", maxKeysPerUser)
	}
	k := &key{
		id: "AKIA" + w.randomString(upperAlnum, 16), secret: w.randomString(secretSet, 40),
		user: u.name, status: types.StatusTypeActive, created: created, visibleAt: w.now().Add(w.ConsistencyDelay),
	}
	u.keys = append(u.keys, k)
	a.keys[k.id] = k
	return k, nil
}

// SetKeyStatus activates or deactivates a key.
func (w *World) SetKeyStatus(accountID, keyID string, status types.StatusType) error {
	k, err := w.account(accountID).keyOf(nil, &keyID)
	if err != nil {
		return err
	}
	k.status = status
	return nil
}

// DeleteKey deletes a key.
func (w *World) DeleteKey(accountID, keyID string) error {
	a := w.account(accountID)
	k, err := a.keyOf(nil, &keyID)
	if err != nil {
		return err
	}
	w.deleteKey(a, k)
	return nil
}

func (w *World) deleteKey(a *account, k *key) {
	u := a.users[k.user]
	u.keys = slices.DeleteFunc(u.keys, func(o *key) bool { return o == k })
	delete(a.keys, k.id)
	now := w.now()
	u.gone = slices.DeleteFunc(u.gone, func(o *key) bool { return !now.Before(o.goneAt) })
	k.goneAt = now.Add(w.ConsistencyDelay)
	u.gone = append(u.gone, k)
}

// UseKey records that a key signed a request at at, to service in region.
func (w *World) UseKey(accountID, keyID string, at time.Time, service, region string) error {
	k, err := w.account(accountID).keyOf(nil, &keyID)
	if err != nil {
		return err
	}
	at = at.UTC()
	k.lastUsed, k.service, k.region = &at, service, region
	return nil
}

// SetTag sets one tag of a user, with TagUser's rules (50 tags, key and value syntax).
func (w *World) SetTag(accountID, userName, tagKey, value string) error {
	u, err := w.account(accountID).user(&userName)
	if err != nil {
		return err
	}
	return u.tag([]types.Tag{{Key: &tagKey, Value: &value}})
}

// RemoveTag removes one tag of a user (missing: fine).
func (w *World) RemoveTag(accountID, userName, tagKey string) error {
	u, err := w.account(accountID).user(&userName)
	if err != nil {
		return err
	}
	u.untag([]string{tagKey})
	return nil
}

// Users returns the names of an account's users, sorted.
func (w *World) Users(accountID string) []string {
	return slices.Clone(w.account(accountID).names)
}

// Key is an access key as IAM holds it (the owner's view: with its secret).
type Key struct {
	AccessKeyID, Secret string
	Status              types.StatusType
	Created             time.Time
	LastUsed            *time.Time
}

// Keys returns a user's keys, oldest first (nil for an unknown user).
func (w *World) Keys(accountID, userName string) []Key {
	u := w.account(accountID).users[userName]
	if u == nil {
		return nil
	}
	keys := make([]Key, 0, len(u.keys))
	for _, k := range u.keys {
		keys = append(keys, Key{AccessKeyID: k.id, Secret: k.secret, Status: k.status, Created: k.created, LastUsed: k.lastUsed})
	}
	slices.SortStableFunc(keys, func(a, b Key) int { return a.Created.Compare(b.Created) })
	return keys
}

// Tags returns a user's tags (nil for an unknown user).
func (w *World) Tags(accountID, userName string) map[string]string {
	u := w.account(accountID).users[userName]
	if u == nil {
		return nil
	}
	tags := make(map[string]string, len(u.tags))
	for _, t := range u.tags {
		tags[*t.Key] = *t.Value
	}
	return tags
}

func mapTags(m map[string]string) []types.Tag {
	tags := make([]types.Tag, 0, len(m))
	for k, v := range m {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	slices.SortFunc(tags, func(a, b types.Tag) int { return cmp.Compare(*a.Key, *b.Key) })
	return tags
}

// tag upserts tags with TagUser's validation. IAM user tag keys are case-insensitive
// (case is preserved): a key that differs only in case replaces the existing tag.
func (u *user) tag(tags []types.Tag) error {
	if len(tags) > maxTagsPerUser {
		return invalidInput("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxTagsPerUser)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		k, v := aws.ToString(t.Key), aws.ToString(t.Value)
		switch {
		case t.Key == nil || k == "" || len(k) > maxTagKeyLen || !tagChars.MatchString(k):
			return invalidInput("1 validation error detected: Value '%s' at 'tags.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+ and length 1-%d", k, maxTagKeyLen)
		case len(v) > maxTagValueLen || !tagChars.MatchString(v):
			return invalidInput("1 validation error detected: Value at 'tags.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]* and length 0-%d", maxTagValueLen)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return invalidInput("Tag keys starting with 'aws:' are reserved for system use.")
		case seen[strings.ToLower(k)]:
			return invalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[strings.ToLower(k)] = true
	}
	added := 0
	for _, t := range tags {
		if !slices.ContainsFunc(u.tags, func(o types.Tag) bool { return strings.EqualFold(*o.Key, *t.Key) }) {
			added++
		}
	}
	if len(u.tags)+added > maxTagsPerUser {
		return limitExceeded("Cannot exceed quota for TagsPerUser: %d", maxTagsPerUser)
	}
	for _, t := range tags {
		nt := types.Tag{Key: aws.String(*t.Key), Value: aws.String(aws.ToString(t.Value))}
		if i := slices.IndexFunc(u.tags, func(o types.Tag) bool { return strings.EqualFold(*o.Key, *t.Key) }); i >= 0 {
			u.tags[i] = nt
		} else {
			u.tags = append(u.tags, nt)
		}
	}
	return nil
}

func (u *user) untag(keys []string) {
	u.tags = slices.DeleteFunc(u.tags, func(t types.Tag) bool {
		return slices.ContainsFunc(keys, func(k string) bool { return strings.EqualFold(k, *t.Key) })
	})
}

// --- The client. ---

// IAM is an IAM client acting in one account.
type IAM struct {
	w   *World
	acc *account
}

// IAM returns a client acting in the account accountID (created empty on first use).
func (w *World) IAM(accountID string) *IAM { return &IAM{w: w, acc: w.account(accountID)} }

func (c *IAM) call(op string, in any) Call {
	return Call{Service: serviceIAM, Operation: op, Account: c.acc.id, Input: in}
}

// page returns items[from:] cut to maxItems, with the marker of the next page.
func page[T any](items []T, marker *string, maxItems *int32) ([]T, *string, error) {
	limit := int(aws.ToInt32(maxItems))
	if maxItems == nil {
		limit = defaultMaxItems
	}
	if limit < 1 || limit > maxMaxItems {
		return nil, nil, invalidInput("MaxItems must be between 1 and %d", maxMaxItems)
	}
	start := 0
	if marker != nil {
		i, err := strconv.Atoi(strings.TrimPrefix(*marker, "m"))
		if err != nil || i < 0 || i > len(items) {
			return nil, nil, invalidInput("Invalid Marker")
		}
		start = i
	}
	end := min(start+limit, len(items))
	var next *string
	if end < len(items) {
		next = aws.String("m" + strconv.Itoa(end))
	}
	return items[start:end], next, nil
}

// ListUsers lists the account's users in name order (without their tags, as AWS does).
func (c *IAM) ListUsers(_ context.Context, in *iam.ListUsersInput, _ ...func(*iam.Options)) (*iam.ListUsersOutput, error) {
	return do(c.w, c.call("ListUsers", in), "", func() (*iam.ListUsersOutput, error) {
		names, next, err := page(c.acc.names, in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		out := &iam.ListUsersOutput{Users: make([]types.User, 0, len(names)), IsTruncated: next != nil, Marker: next}
		for _, n := range names {
			u := c.acc.users[n]
			out.Users = append(out.Users, types.User{UserName: aws.String(u.name), UserId: aws.String(u.id),
				Arn: aws.String(c.acc.userARN(u.name)), Path: aws.String("/"), CreateDate: aws.Time(u.created)})
		}
		return out, nil
	})
}

// ListAccessKeys lists a user's keys as IAM's eventually consistent read does: a key
// created within ConsistencyDelay is missing, a key deleted within it is still there.
func (c *IAM) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	return do(c.w, c.call("ListAccessKeys", in), aws.ToString(in.UserName), func() (*iam.ListAccessKeysOutput, error) {
		u, err := c.acc.user(in.UserName)
		if err != nil {
			return nil, err
		}
		now := c.w.now()
		var visible []*key
		for _, k := range u.keys {
			if !now.Before(k.visibleAt) {
				visible = append(visible, k)
			}
		}
		for _, k := range u.gone {
			if now.Before(k.goneAt) && !now.Before(k.visibleAt) {
				visible = append(visible, k)
			}
		}
		slices.SortStableFunc(visible, func(a, b *key) int { return a.created.Compare(b.created) })
		keys, next, err := page(visible, in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		out := &iam.ListAccessKeysOutput{AccessKeyMetadata: make([]types.AccessKeyMetadata, 0, len(keys)), IsTruncated: next != nil, Marker: next}
		for _, k := range keys {
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, types.AccessKeyMetadata{
				AccessKeyId: aws.String(k.id), UserName: aws.String(k.user), Status: k.status, CreateDate: aws.Time(k.created)})
		}
		return out, nil
	})
}

// ListUserTags lists a user's tags.
func (c *IAM) ListUserTags(_ context.Context, in *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	return do(c.w, c.call("ListUserTags", in), aws.ToString(in.UserName), func() (*iam.ListUserTagsOutput, error) {
		u, err := c.acc.user(in.UserName)
		if err != nil {
			return nil, err
		}
		tags, next, err := page(u.tags, in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		out := &iam.ListUserTagsOutput{Tags: make([]types.Tag, 0, len(tags)), IsTruncated: next != nil, Marker: next}
		for _, t := range tags {
			out.Tags = append(out.Tags, types.Tag{Key: aws.String(*t.Key), Value: aws.String(*t.Value)})
		}
		return out, nil
	})
}

// GetAccountAuthorizationDetails lists the account's users in name order with their tags
// (Filter User; the model holds no policies or groups).
func (c *IAM) GetAccountAuthorizationDetails(_ context.Context, in *iam.GetAccountAuthorizationDetailsInput, _ ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	return do(c.w, c.call("GetAccountAuthorizationDetails", in), "", func() (*iam.GetAccountAuthorizationDetailsOutput, error) {
		if !slices.Equal(in.Filter, []types.EntityType{types.EntityTypeUser}) {
			return nil, invalidInput("the model serves Filter [User] only, got %v", in.Filter)
		}
		names, next, err := page(c.acc.names, in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		out := &iam.GetAccountAuthorizationDetailsOutput{UserDetailList: make([]types.UserDetail, 0, len(names)), IsTruncated: next != nil, Marker: next}
		for _, n := range names {
			u := c.acc.users[n]
			d := types.UserDetail{UserName: aws.String(u.name), UserId: aws.String(u.id), Arn: aws.String(c.acc.userARN(u.name)),
				Path: aws.String("/"), CreateDate: aws.Time(u.created)}
			for _, t := range u.tags {
				d.Tags = append(d.Tags, types.Tag{Key: aws.String(*t.Key), Value: aws.String(*t.Value)})
			}
			out.UserDetailList = append(out.UserDetailList, d)
		}
		return out, nil
	})
}

// GetAccessKeyLastUsed reports a key's last use: LastUsedDate nil and ServiceName and
// Region "N/A" when it was never used.
func (c *IAM) GetAccessKeyLastUsed(_ context.Context, in *iam.GetAccessKeyLastUsedInput, _ ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	return do(c.w, c.call("GetAccessKeyLastUsed", in), aws.ToString(in.AccessKeyId), func() (*iam.GetAccessKeyLastUsedOutput, error) {
		k, err := c.acc.keyOf(nil, in.AccessKeyId)
		if err != nil {
			return nil, err
		}
		used := &types.AccessKeyLastUsed{ServiceName: aws.String("N/A"), Region: aws.String("N/A")}
		if k.lastUsed != nil {
			used = &types.AccessKeyLastUsed{LastUsedDate: aws.Time(*k.lastUsed), ServiceName: aws.String(k.service), Region: aws.String(k.region)}
		}
		return &iam.GetAccessKeyLastUsedOutput{UserName: aws.String(k.user), AccessKeyLastUsed: used}, nil
	})
}

// CreateAccessKey creates an Active key (LimitExceeded when the user has two, Inactive
// ones included).
func (c *IAM) CreateAccessKey(_ context.Context, in *iam.CreateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	call := c.call("CreateAccessKey", in)
	var o iam.Options
	for _, f := range optFns {
		f(&o)
	}
	call.NoSDKRetry = o.RetryMaxAttempts == 1
	return do(c.w, call, aws.ToString(in.UserName), func() (*iam.CreateAccessKeyOutput, error) {
		u, err := c.acc.user(in.UserName)
		if err != nil {
			return nil, err
		}
		k, err := c.w.newKey(c.acc, u, c.w.now())
		if err != nil {
			return nil, err
		}
		return &iam.CreateAccessKeyOutput{AccessKey: &types.AccessKey{AccessKeyId: aws.String(k.id), SecretAccessKey: aws.String(k.secret),
			UserName: aws.String(k.user), Status: k.status, CreateDate: aws.Time(k.created)}}, nil
	})
}

// UpdateAccessKey sets a key's status.
func (c *IAM) UpdateAccessKey(_ context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	return do(c.w, c.call("UpdateAccessKey", in), aws.ToString(in.UserName)+" "+aws.ToString(in.AccessKeyId)+" "+string(in.Status), func() (*iam.UpdateAccessKeyOutput, error) {
		if in.Status != types.StatusTypeActive && in.Status != types.StatusTypeInactive {
			return nil, generic(400, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", in.Status))
		}
		k, err := c.acc.keyOf(in.UserName, in.AccessKeyId)
		if err != nil {
			return nil, err
		}
		k.status = in.Status
		return &iam.UpdateAccessKeyOutput{}, nil
	})
}

// DeleteAccessKey deletes a key (ListAccessKeys may list it for ConsistencyDelay).
func (c *IAM) DeleteAccessKey(_ context.Context, in *iam.DeleteAccessKeyInput, _ ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	return do(c.w, c.call("DeleteAccessKey", in), aws.ToString(in.UserName)+" "+aws.ToString(in.AccessKeyId), func() (*iam.DeleteAccessKeyOutput, error) {
		k, err := c.acc.keyOf(in.UserName, in.AccessKeyId)
		if err != nil {
			return nil, err
		}
		c.w.deleteKey(c.acc, k)
		return &iam.DeleteAccessKeyOutput{}, nil
	})
}

// TagUser adds or replaces tags (LimitExceeded beyond 50, InvalidInput for a bad key or
// value).
func (c *IAM) TagUser(_ context.Context, in *iam.TagUserInput, _ ...func(*iam.Options)) (*iam.TagUserOutput, error) {
	return do(c.w, c.call("TagUser", in), aws.ToString(in.UserName)+" "+tagKeys(in.Tags), func() (*iam.TagUserOutput, error) {
		u, err := c.acc.user(in.UserName)
		if err != nil {
			return nil, err
		}
		if err := u.tag(in.Tags); err != nil {
			return nil, err
		}
		return &iam.TagUserOutput{}, nil
	})
}

func tagKeys(tags []types.Tag) string {
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = aws.ToString(t.Key)
	}
	return strings.Join(keys, ",")
}

// UntagUser removes tags; keys the user does not have are ignored.
func (c *IAM) UntagUser(_ context.Context, in *iam.UntagUserInput, _ ...func(*iam.Options)) (*iam.UntagUserOutput, error) {
	return do(c.w, c.call("UntagUser", in), aws.ToString(in.UserName)+" "+strings.Join(in.TagKeys, ","), func() (*iam.UntagUserOutput, error) {
		u, err := c.acc.user(in.UserName)
		if err != nil {
			return nil, err
		}
		u.untag(in.TagKeys)
		return &iam.UntagUserOutput{}, nil
	})
}
