package awsmodel

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// Secrets Manager's documented limits and defaults.
const (
	maxSecretNameLen      = 512
	maxSecretTags         = 50
	defaultRecoveryDays   = 30
	minRecoveryDays       = 7
	defaultListSecretsMax = 100
	maxListSecrets        = 100
)

var (
	secretNameChars  = regexp.MustCompile(`^[\w/+=.@-]+$`)
	filterValueChars = regexp.MustCompile(`^!?[a-zA-Z0-9 :_@/+=.\-!]*$`)
)

type secretStore struct {
	all   []*secret // in creation order, deleted ones included
	byARN map[string]*secret
}

type secret struct {
	account                          string
	arn, name, description, kmsKeyID string
	value                            *string
	binary                           []byte
	versionID, token                 string // the AWSCURRENT version's
	// versions are the values by version ID, and stages the staging labels of the versions
	// that have one (a version without a label is deprecated: DescribeSecret omits it).
	versions map[string]*string
	stages   map[string][]string
	tags     []smtypes.Tag
	created  time.Time
	// lastChanged is DescribeSecret's LastChangedDate: "the last date and time that this
	// secret was modified in any way" (a value, tags, a scheduled deletion, a policy).
	lastChanged time.Time
	deletedDate *time.Time // when its deletion was scheduled (recovery window)
	deleteOn    time.Time  // the end of the recovery window
	purgedAt    *time.Time // deleted for good
	// memberWriteDenied is what denies the rotator's member role PutSecretValue on the
	// secret: DenyByKMSKey or DenyByResourcePolicy ("": nothing).
	memberWriteDenied string
}

// What may deny the rotator's member role a write to an application's secret
// (DenyMemberWrites): the secret's customer managed KMS key (its key policy does not let the
// role use it through Secrets Manager, or the key is disabled) or the secret's resource
// policy.
const (
	DenyByKMSKey         = "kms-key"
	DenyByResourcePolicy = "resource-policy"
)

// Secret is a secret as Secrets Manager holds it.
type Secret struct {
	Account     string
	ARN, Name   string
	Value       string
	Tags        map[string]string
	Created     time.Time
	DeletedDate *time.Time // when its deletion was scheduled (nil: not scheduled)
	DeleteOn    time.Time  // when a scheduled deletion takes effect
	// MemberWriteDenied says what denies the rotator's member role its writes
	// (DenyMemberWrites), "" when nothing does.
	MemberWriteDenied string
}

// SecretsList returns the secrets that exist (scheduled deletions included), oldest first.
func (w *World) SecretsList() []Secret {
	w.purgeSecrets()
	var list []Secret
	for _, s := range w.secrets.all {
		if s.purgedAt != nil {
			continue
		}
		list = append(list, s.public())
	}
	return list
}

// SecretIn returns the live secret of account named name.
func (w *World) SecretIn(account, name string) (Secret, bool) {
	sec, err := w.findSecret(account, &name)
	if err != nil {
		return Secret{}, false
	}
	return sec.public(), true
}

func (s *secret) public() Secret {
	tags := make(map[string]string, len(s.tags))
	for _, t := range s.tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return Secret{Account: s.account, ARN: s.arn, Name: s.name, Value: aws.ToString(s.value), Tags: tags, Created: s.created, DeletedDate: s.deletedDate, DeleteOn: s.deleteOn,
		MemberWriteDenied: s.memberWriteDenied}
}

// purgeSecrets deletes for good the secrets whose recovery window has passed, and forgets
// the purged ones that ListSecrets no longer shows.
func (w *World) purgeSecrets() {
	now := w.now()
	st := &w.secrets
	for _, s := range st.all {
		if s.deletedDate != nil && s.purgedAt == nil && !now.Before(s.deleteOn) {
			s.purgedAt = aws.Time(s.deleteOn)
		}
	}
	st.all = slices.DeleteFunc(st.all, func(s *secret) bool {
		if s.purgedAt != nil && !now.Before(s.purgedAt.Add(w.ListSecretsDelay)) {
			delete(st.byARN, s.arn)
			return true
		}
		return false
	})
}

// findSecret returns the live secret of account (scheduled deletions included) named by ARN
// or name.
func (w *World) findSecret(account string, id *string) (*secret, error) {
	w.purgeSecrets()
	ref := aws.ToString(id)
	if s := w.secrets.byARN[ref]; s != nil && s.purgedAt == nil && s.account == account {
		return s, nil
	}
	for _, s := range w.secrets.all {
		if s.name == ref && s.purgedAt == nil && s.account == account {
			return s, nil
		}
	}
	return nil, fail(400, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")})
}

func invalidRequest(msg string) error {
	return fail(400, &smtypes.InvalidRequestException{Message: aws.String(msg)})
}

func invalidParameter(msg string) error {
	return fail(400, &smtypes.InvalidParameterException{Message: aws.String(msg)})
}

// Secrets is a Secrets Manager client of one account.
type Secrets struct {
	w       *World
	account string
	// member: the caller is the rotator's member role (MemberSecretsIn).
	member bool
}

// MemberSecretsIn returns account's Secrets Manager as the rotator's roles in a member
// account reach it on AWS (ScanAndRotate's member role, NotifyUser's own): their grants on
// secrets are conditioned on the tag key config.AppSecretOptInTag ("Null": false), so
// DescribeSecret and PutSecretValue on a secret without that tag key, or on one that does
// not exist (IAM sees no tag), answer AccessDeniedException; so does a PutSecretValue that
// the secret's KMS key or resource policy denies (DenyMemberWrites).
func (w *World) MemberSecretsIn(account string) *Secrets {
	return &Secrets{w: w, account: account, member: true}
}

// memberDenied is AWS's answer to the member role's op on the secret id when the role's
// policy, or for a write the secret's KMS key or resource policy, denies it (nil otherwise,
// and for any other caller).
func (c *Secrets) memberDenied(op string, id *string) error {
	if !c.member {
		return nil
	}
	s, err := c.w.findSecret(c.account, id)
	denied := func(msg string) error { return generic(400, "AccessDeniedException", msg) }
	switch {
	case err != nil || !slices.ContainsFunc(s.tags, func(t smtypes.Tag) bool { return aws.ToString(t.Key) == config.AppSecretOptInTag }):
		return denied(fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/member is not authorized to perform: secretsmanager:%s on resource: %s because no identity-based policy allows the secretsmanager:%s action",
			c.account, op, aws.ToString(id), op))
	case op != "PutSecretValue":
		return nil
	case s.memberWriteDenied == DenyByKMSKey:
		return denied("Access to KMS is not allowed")
	case s.memberWriteDenied == DenyByResourcePolicy:
		return denied(fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/member is not authorized to perform: secretsmanager:PutSecretValue on resource: %s with an explicit deny in a resource-based policy",
			c.account, aws.ToString(id)))
	}
	return nil
}

// Secrets returns a Secrets Manager client of the SecretsAccount (the hand-off secrets).
func (w *World) Secrets() *Secrets { return w.SecretsIn(w.SecretsAccount) }

// SecretsIn returns a Secrets Manager client of account: a member account's, where
// applications keep the secrets that machine users' keys are delivered to.
func (w *World) SecretsIn(account string) *Secrets { return &Secrets{w: w, account: account} }

func (c *Secrets) call(op string, in any) Call {
	return Call{Service: serviceSecrets, Operation: op, Account: c.account, Input: in}
}

// CreateSecret stores a new secret: ResourceExists when a secret of that name exists,
// InvalidRequest when one is scheduled for deletion. A retry with the same
// ClientRequestToken and value succeeds without a change, as AWS documents (the SDK fills
// the token in and keeps it across its retries).
func (c *Secrets) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	token := aws.ToString(in.ClientRequestToken)
	if token == "" {
		token = c.w.randomUUID()
	}
	return do(c.w, c.call("CreateSecret", in), aws.ToString(in.Name), func() (*secretsmanager.CreateSecretOutput, error) {
		return c.w.createSecret(c.account, in, token)
	})
}

// createSecret is CreateSecret's effect in account.
func (w *World) createSecret(account string, in *secretsmanager.CreateSecretInput, token string) (*secretsmanager.CreateSecretOutput, error) {
	name := aws.ToString(in.Name)
	if len(name) > maxSecretNameLen || !secretNameChars.MatchString(name) {
		return nil, invalidParameter("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	if len(in.Tags) > maxSecretTags {
		return nil, invalidParameter(fmt.Sprintf("Number of tags exceeds the maximum of %d", maxSecretTags))
	}
	if existing, err := w.findSecret(account, in.Name); err == nil {
		switch {
		case existing.deletedDate != nil:
			return nil, invalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.")
		case existing.token == token && aws.ToString(existing.value) == aws.ToString(in.SecretString):
			return &secretsmanager.CreateSecretOutput{ARN: aws.String(existing.arn), Name: aws.String(existing.name), VersionId: aws.String(existing.versionID)}, nil
		}
		return nil, fail(400, &smtypes.ResourceExistsException{Message: aws.String("The operation failed because the secret " + name + " already exists.")})
	}
	s := &secret{account: account,
		arn:  fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", w.Region, account, name, w.randomString(alnum, 6)),
		name: name, description: aws.ToString(in.Description), kmsKeyID: aws.ToString(in.KmsKeyId),
		versionID: token, token: token, created: w.now(), lastChanged: w.now(), tags: cloneTags(in.Tags),
		binary: slices.Clone(in.SecretBinary), versions: map[string]*string{}, stages: map[string][]string{},
	}
	if in.SecretString != nil {
		s.value = aws.String(*in.SecretString)
		s.versions[token], s.stages[token] = s.value, []string{"AWSCURRENT"}
	}
	w.secrets.all = append(w.secrets.all, s)
	w.secrets.byARN[s.arn] = s
	return &secretsmanager.CreateSecretOutput{ARN: aws.String(s.arn), Name: aws.String(s.name), VersionId: aws.String(s.versionID)}, nil
}

func (w *World) randomUUID() string {
	const hex = "0123456789abcdef"
	return w.randomString(hex, 8) + "-" + w.randomString(hex, 4) + "-4" + w.randomString(hex, 3) + "-a" +
		w.randomString(hex, 3) + "-" + w.randomString(hex, 12)
}

func cloneTags(tags []smtypes.Tag) []smtypes.Tag {
	out := make([]smtypes.Tag, 0, len(tags))
	for _, t := range tags {
		out = append(out, smtypes.Tag{Key: aws.String(aws.ToString(t.Key)), Value: aws.String(aws.ToString(t.Value))})
	}
	return out
}

// GetSecretValue returns a secret's value (InvalidRequest when it is scheduled for
// deletion).
func (c *Secrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return do(c.w, c.call("GetSecretValue", in), aws.ToString(in.SecretId), func() (*secretsmanager.GetSecretValueOutput, error) {
		s, err := c.w.findSecret(c.account, in.SecretId)
		if err != nil {
			return nil, err
		}
		if s.deletedDate != nil {
			return nil, invalidRequest("You can't perform this operation on the secret because it was marked for deletion.")
		}
		out := &secretsmanager.GetSecretValueOutput{ARN: aws.String(s.arn), Name: aws.String(s.name), VersionId: aws.String(s.versionID),
			VersionStages: []string{"AWSCURRENT"}, CreatedDate: aws.Time(s.created), SecretBinary: slices.Clone(s.binary)}
		if s.value != nil {
			out.SecretString = aws.String(*s.value)
		}
		return out, nil
	})
}

// DeleteSecret deletes a secret at once (ForceDeleteWithoutRecovery) or schedules its
// deletion after RecoveryWindowInDays (7 to 30, default 30).
func (c *Secrets) DeleteSecret(_ context.Context, in *secretsmanager.DeleteSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	return do(c.w, c.call("DeleteSecret", in), aws.ToString(in.SecretId), func() (*secretsmanager.DeleteSecretOutput, error) {
		force := aws.ToBool(in.ForceDeleteWithoutRecovery)
		days := aws.ToInt64(in.RecoveryWindowInDays)
		switch {
		case force && in.RecoveryWindowInDays != nil:
			return nil, invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
		case in.RecoveryWindowInDays == nil:
			days = defaultRecoveryDays
		case days < minRecoveryDays || days > defaultRecoveryDays:
			return nil, invalidParameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
		s, err := c.w.findSecret(c.account, in.SecretId)
		if err != nil {
			return nil, err
		}
		now := c.w.now()
		switch {
		case force:
			s.purgedAt = aws.Time(now)
			s.deleteOn = now
		case s.deletedDate != nil:
			return nil, invalidRequest("You can't perform this operation on the secret because it was already scheduled for deletion.")
		default:
			s.deletedDate, s.lastChanged = aws.Time(now), now
			s.deleteOn = now.Add(time.Duration(days) * 24 * time.Hour)
		}
		return &secretsmanager.DeleteSecretOutput{ARN: aws.String(s.arn), Name: aws.String(s.name), DeletionDate: aws.Time(s.deleteOn)}, nil
	})
}

// DescribeSecret returns a secret's metadata and tags.
func (c *Secrets) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return do(c.w, c.call("DescribeSecret", in), aws.ToString(in.SecretId), func() (*secretsmanager.DescribeSecretOutput, error) {
		if err := c.memberDenied("DescribeSecret", in.SecretId); err != nil {
			return nil, err
		}
		s, err := c.w.findSecret(c.account, in.SecretId)
		if err != nil {
			return nil, err
		}
		out := &secretsmanager.DescribeSecretOutput{ARN: aws.String(s.arn), Name: aws.String(s.name), Description: optional(s.description),
			KmsKeyId: optional(s.kmsKeyID), CreatedDate: aws.Time(s.created), LastChangedDate: aws.Time(s.lastChanged), DeletedDate: s.deletedDateShown(), Tags: cloneTags(s.tags)}
		if len(s.stages) > 0 {
			out.VersionIdsToStages = map[string][]string{}
			for id, stages := range s.stages {
				out.VersionIdsToStages[id] = slices.Clone(stages)
			}
		}
		return out, nil
	})
}

// deletedDateShown is the DeletedDate Secrets Manager shows of a secret scheduled for
// deletion: the date it is deleted (the end of the recovery window; "some time after the
// deleted date, Secrets Manager deletes the secret"), nil when it is not scheduled.
func (s *secret) deletedDateShown() *time.Time {
	if s.deletedDate == nil {
		return nil
	}
	return aws.Time(s.deleteOn)
}

// RestoreSecret cancels a secret's scheduled deletion: its value can be read again. A secret
// not scheduled for deletion is left as it is.
func (c *Secrets) RestoreSecret(_ context.Context, in *secretsmanager.RestoreSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.RestoreSecretOutput, error) {
	return do(c.w, c.call("RestoreSecret", in), aws.ToString(in.SecretId), func() (*secretsmanager.RestoreSecretOutput, error) {
		s, err := c.w.findSecret(c.account, in.SecretId)
		if err != nil {
			return nil, err
		}
		s.deletedDate, s.deleteOn, s.lastChanged = nil, time.Time{}, c.w.now()
		return &secretsmanager.RestoreSecretOutput{ARN: aws.String(s.arn), Name: aws.String(s.name)}, nil
	})
}

// PutSecretValue adds a version holding SecretString and makes it AWSCURRENT (the one
// before becomes AWSPREVIOUS, the one before that loses its label). A version ID that exists
// with the same value changes nothing (a retry); with another value it is ResourceExists.
// InvalidRequest for a secret scheduled for deletion. The token is 32 to 64 characters.
func (c *Secrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	token := aws.ToString(in.ClientRequestToken)
	if token == "" {
		token = c.w.randomUUID()
	}
	return do(c.w, c.call("PutSecretValue", in), aws.ToString(in.SecretId), func() (*secretsmanager.PutSecretValueOutput, error) {
		if len(token) < 32 || len(token) > 64 {
			return nil, invalidParameter("ClientRequestToken must be 32-64 characters long.")
		}
		if err := c.memberDenied("PutSecretValue", in.SecretId); err != nil {
			return nil, err
		}
		s, err := c.w.findSecret(c.account, in.SecretId)
		if err != nil {
			return nil, err
		}
		return s.put(token, aws.ToString(in.SecretString), c.w.now())
	})
}

// put adds the version token holding value and makes it AWSCURRENT (PutSecretValue) at now.
func (s *secret) put(token, value string, now time.Time) (*secretsmanager.PutSecretValueOutput, error) {
	if s.deletedDate != nil {
		return nil, invalidRequest("You can't perform this operation on the secret because it was marked for deletion.")
	}
	out := &secretsmanager.PutSecretValueOutput{ARN: aws.String(s.arn), Name: aws.String(s.name), VersionId: aws.String(token)}
	if existing, ok := s.versions[token]; ok {
		if aws.ToString(existing) != value {
			return nil, fail(400, &smtypes.ResourceExistsException{Message: aws.String("You can't use ClientRequestToken " + token +
				" because that value is already in use for a version of secret " + s.arn + ".")})
		}
		out.VersionStages = slices.Clone(s.stages[token])
		return out, nil
	}
	for id, stages := range s.stages {
		switch {
		case slices.Contains(stages, "AWSCURRENT"):
			s.stages[id] = []string{"AWSPREVIOUS"}
		case slices.Contains(stages, "AWSPREVIOUS"):
			delete(s.stages, id)
		}
	}
	s.value, s.lastChanged = aws.String(value), now
	s.versionID, s.token = token, token
	s.versions[token], s.stages[token] = s.value, []string{"AWSCURRENT"}
	out.VersionStages = []string{"AWSCURRENT"}
	return out, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// TagResource adds or replaces tags of a secret (keys case-sensitive).
func (c *Secrets) TagResource(_ context.Context, in *secretsmanager.TagResourceInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.TagResourceOutput, error) {
	return do(c.w, c.call("TagResource", in), aws.ToString(in.SecretId), func() (*secretsmanager.TagResourceOutput, error) {
		s, err := c.w.findSecret(c.account, in.SecretId)
		if err != nil {
			return nil, err
		}
		tags := cloneTags(s.tags)
		for _, t := range cloneTags(in.Tags) {
			if i := slices.IndexFunc(tags, func(o smtypes.Tag) bool { return *o.Key == *t.Key }); i >= 0 {
				tags[i] = t
			} else {
				tags = append(tags, t)
			}
		}
		if len(tags) > maxSecretTags {
			return nil, invalidParameter(fmt.Sprintf("Number of tags exceeds the maximum of %d", maxSecretTags))
		}
		s.tags, s.lastChanged = tags, c.w.now()
		return &secretsmanager.TagResourceOutput{}, nil
	})
}

// UntagResource removes tags of a secret.
func (c *Secrets) UntagResource(_ context.Context, in *secretsmanager.UntagResourceInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UntagResourceOutput, error) {
	return do(c.w, c.call("UntagResource", in), aws.ToString(in.SecretId), func() (*secretsmanager.UntagResourceOutput, error) {
		s, err := c.w.findSecret(c.account, in.SecretId)
		if err != nil {
			return nil, err
		}
		s.tags = slices.DeleteFunc(s.tags, func(t smtypes.Tag) bool { return slices.Contains(in.TagKeys, *t.Key) })
		s.lastChanged = c.w.now()
		return &secretsmanager.UntagResourceOutput{}, nil
	})
}

// ListSecrets lists secrets as the eventually consistent listing does: as they were
// ListSecretsDelay ago (a newer secret is missing, a secret deleted since is still listed
// as it was). Filters: name, tag-key and tag-value (prefix, case-sensitive), description
// (prefix, case-insensitive), each value negated by a leading "!"; values of one filter
// are alternatives, filters all apply. Newest first unless SortOrder is asc.
func (c *Secrets) ListSecrets(_ context.Context, in *secretsmanager.ListSecretsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	return do(c.w, c.call("ListSecrets", in), filterSummary(in.Filters), func() (*secretsmanager.ListSecretsOutput, error) {
		for _, f := range in.Filters {
			if len(f.Values) == 0 || len(f.Values) > 10 {
				return nil, invalidParameter("Invalid filter values: between 1 and 10 values are required.")
			}
			for _, v := range f.Values {
				if len(v) > 512 || !filterValueChars.MatchString(v) {
					return nil, invalidParameter("Invalid filter value: " + v)
				}
			}
			switch f.Key {
			case smtypes.FilterNameStringTypeName, smtypes.FilterNameStringTypeTagKey, smtypes.FilterNameStringTypeTagValue,
				smtypes.FilterNameStringTypeDescription:
			default:
				return nil, invalidParameter("The model supports the name, tag-key, tag-value and description filters, not " + string(f.Key))
			}
		}
		c.w.purgeSecrets()
		asOf := c.w.now().Add(-c.w.ListSecretsDelay)
		var listed []*secret
		for _, s := range c.w.secrets.all {
			if s.account != c.account || s.created.After(asOf) || (s.purgedAt != nil && s.purgedAt.Before(asOf)) {
				continue
			}
			scheduled := s.deletedDate != nil && !s.deletedDate.After(asOf)
			if scheduled && !aws.ToBool(in.IncludePlannedDeletion) {
				continue
			}
			if matchesAll(s, in.Filters) {
				listed = append(listed, s)
			}
		}
		slices.SortStableFunc(listed, func(a, b *secret) int {
			if in.SortOrder == smtypes.SortOrderTypeAsc {
				return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.name, b.name))
			}
			return cmp.Or(b.created.Compare(a.created), cmp.Compare(a.name, b.name))
		})
		limit := int(aws.ToInt32(in.MaxResults))
		if in.MaxResults == nil {
			limit = defaultListSecretsMax
		}
		if limit < 1 || limit > maxListSecrets {
			return nil, invalidParameter(fmt.Sprintf("MaxResults must be between 1 and %d", maxListSecrets))
		}
		start := 0
		if in.NextToken != nil {
			i, err := strconv.Atoi(strings.TrimPrefix(*in.NextToken, "t"))
			if err != nil || i < 0 || i > len(listed) {
				return nil, fail(400, &smtypes.InvalidNextTokenException{Message: aws.String("The NextToken value is invalid.")})
			}
			start = i
		}
		end := min(start+limit, len(listed))
		out := &secretsmanager.ListSecretsOutput{SecretList: make([]smtypes.SecretListEntry, 0, end-start)}
		if end < len(listed) {
			out.NextToken = aws.String("t" + strconv.Itoa(end))
		}
		for _, s := range listed[start:end] {
			e := smtypes.SecretListEntry{ARN: aws.String(s.arn), Name: aws.String(s.name), Description: optional(s.description),
				KmsKeyId: optional(s.kmsKeyID), CreatedDate: aws.Time(s.created), Tags: cloneTags(s.tags)}
			if s.deletedDate != nil && !s.deletedDate.After(asOf) {
				e.DeletedDate = s.deletedDateShown()
			}
			out.SecretList = append(out.SecretList, e)
		}
		return out, nil
	})
}

func filterSummary(filters []smtypes.Filter) string {
	parts := make([]string, 0, len(filters))
	for _, f := range filters {
		parts = append(parts, string(f.Key)+"="+strings.Join(f.Values, "|"))
	}
	return strings.Join(parts, " ")
}

func matchesAll(s *secret, filters []smtypes.Filter) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(f.Values, func(v string) bool { return matches(s, f.Key, v) }) {
			return false
		}
	}
	return true
}

func matches(s *secret, key smtypes.FilterNameStringType, value string) bool {
	negate := strings.HasPrefix(value, "!")
	value = strings.TrimPrefix(value, "!")
	var hit bool
	switch key {
	case smtypes.FilterNameStringTypeName:
		hit = strings.HasPrefix(s.name, value)
	case smtypes.FilterNameStringTypeDescription:
		hit = strings.HasPrefix(strings.ToLower(s.description), strings.ToLower(value))
	case smtypes.FilterNameStringTypeTagKey:
		hit = slices.ContainsFunc(s.tags, func(t smtypes.Tag) bool { return strings.HasPrefix(aws.ToString(t.Key), value) })
	case smtypes.FilterNameStringTypeTagValue:
		hit = slices.ContainsFunc(s.tags, func(t smtypes.Tag) bool { return strings.HasPrefix(aws.ToString(t.Value), value) })
	}
	return hit != negate
}

// CreateAppSecret is an application team creating a secret in account, with a first value
// and tags (the owners' side: no fault, not observed).
func (w *World) CreateAppSecret(account, name, value string, tags map[string]string) error {
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	_, err := w.createSecret(account, in, w.randomUUID())
	return err
}

// SetAppSecretTag is an application team tagging its secret in account (value "": removing
// the tag); the owners' side, like CreateAppSecret.
func (w *World) SetAppSecretTag(account, name, key, value string) error {
	s, err := w.findSecret(account, &name)
	if err != nil {
		return err
	}
	s.tags, s.lastChanged = slices.DeleteFunc(s.tags, func(t smtypes.Tag) bool { return aws.ToString(t.Key) == key }), w.now()
	if value != "" {
		s.tags = append(s.tags, smtypes.Tag{Key: aws.String(key), Value: aws.String(value)})
	}
	return nil
}

// WriteAppSecret is an application team (its IaC) writing a new value into its secret in
// account, as a new AWSCURRENT version with a version ID of its own; the owners' side, like
// CreateAppSecret. A secret scheduled for deletion is InvalidRequest.
func (w *World) WriteAppSecret(account, name, value string) error {
	s, err := w.findSecret(account, &name)
	if err != nil {
		return err
	}
	_, err = s.put(w.randomUUID(), value, w.now())
	return err
}

// DeleteAppSecret is an application team scheduling its secret's deletion (recovery window
// of days); RestoreAppSecret cancels it. The owners' side, like CreateAppSecret.
func (w *World) DeleteAppSecret(account, name string, days int) error {
	s, err := w.findSecret(account, &name)
	if err != nil {
		return err
	}
	if s.deletedDate == nil {
		s.deletedDate, s.deleteOn, s.lastChanged = aws.Time(w.now()), w.now().AddDate(0, 0, days), w.now()
	}
	return nil
}

// RestoreAppSecret cancels the scheduled deletion of an application's secret.
func (w *World) RestoreAppSecret(account, name string) error {
	s, err := w.findSecret(account, &name)
	if err != nil {
		return err
	}
	s.deletedDate, s.deleteOn, s.lastChanged = nil, time.Time{}, w.now()
	return nil
}

// DenyMemberWrites makes the secret's KMS key or resource policy deny (by, DenyByKMSKey or
// DenyByResourcePolicy) the rotator's member role's PutSecretValue, or allow it again ("").
func (w *World) DenyMemberWrites(account, name, by string) error {
	s, err := w.findSecret(account, &name)
	if err != nil {
		return err
	}
	s.memberWriteDenied, s.lastChanged = by, w.now()
	return nil
}
