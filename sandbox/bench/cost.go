package bench

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Price is one list price: what it is, in US dollars per Per units of Unit.
type Price struct {
	What   string
	USD    float64
	Per    float64
	Unit   string
	Source string
}

func (p Price) String() string {
	price := "$" + strconv.FormatFloat(p.USD, 'f', -1, 64)
	if p.Per == 1 {
		return fmt.Sprintf("%s per %s", price, p.Unit)
	}
	return fmt.Sprintf("%s per %s %s", price, thousands(p.Per), p.Unit)
}

// The list prices the cost of a run is computed with: US East (N. Virginia), on demand,
// before any free tier (Step Functions' 4,000 transitions, Lambda's 1M requests and 400,000
// GB-s a month), as the services' pricing pages gave them on PricesAsOf.
var (
	PricesAsOf = "2026-11-29"

	StateTransition = Price{"Step Functions Standard", 0.025, 1000, "state transitions", "https://aws.amazon.com/step-functions/pricing/"}
	LambdaGBSecond  = Price{"Lambda duration, Arm (first tier)", 0.0000133334, 1, "GB-second", "https://aws.amazon.com/lambda/pricing/"}
	LambdaRequest   = Price{"Lambda requests", 0.20, 1_000_000, "requests", "https://aws.amazon.com/lambda/pricing/"}
	// A secret is billed $0.40 a month, prorated by the hour (730 hours a month); a secret
	// scheduled for deletion is not billed.
	SecretHour   = Price{"Secrets Manager storage", 0.40, 730, "secret-hours (a secret-month)", "https://aws.amazon.com/secrets-manager/pricing/"}
	SecretsCall  = Price{"Secrets Manager API calls", 0.05, 10_000, "calls", "https://aws.amazon.com/secrets-manager/pricing/"}
	EmailMessage = Price{"SES outbound email", 0.10, 1000, "messages", "https://aws.amazon.com/ses/pricing/"}
)

// Cost is the price of quantity units.
func (p Price) Cost(quantity float64) float64 { return quantity / p.Per * p.USD }

// NextRunHours is how long a hand-off secret the run left live (its key not sent: NotifyUser
// failed, or its delivery was deferred) stays billed: until the next daily run.
const NextRunHours = 24

// HandoffSecret is one hand-off secret as the run left it: created, and, once NotifyUser sent
// its key, scheduled for deletion.
type HandoffSecret struct {
	Created   time.Time
	Scheduled *time.Time // when its deletion was scheduled; nil: still live
}

// BilledHours is how long Secrets Manager bills the secret: from its creation to its
// scheduled deletion (a secret scheduled for deletion costs nothing), whole hours rounded up
// (the secret-month is prorated by the hour), at least one; a secret still live at the end of
// the run is billed until the next daily run confirms it.
func (s HandoffSecret) BilledHours() float64 {
	if s.Scheduled == nil {
		return NextRunHours
	}
	return max(1, math.Ceil(s.Scheduled.Sub(s.Created).Hours()))
}

// Usage is what one daily run uses of what is billed.
type Usage struct {
	Transitions    int
	LambdaRequests int
	LambdaGBs      float64
	SecretHours    float64
	SecretsCalls   int
	Emails         int
}

// Line is one item of a run's bill.
type Line struct {
	Price    Price
	Quantity float64
	USD      float64
}

// Bill prices a run's usage, one line per price, and returns the lines and their total.
func (u Usage) Bill() ([]Line, float64) {
	lines := []Line{
		{Price: StateTransition, Quantity: float64(u.Transitions)},
		{Price: LambdaGBSecond, Quantity: u.LambdaGBs},
		{Price: LambdaRequest, Quantity: float64(u.LambdaRequests)},
		{Price: SecretHour, Quantity: u.SecretHours},
		{Price: SecretsCall, Quantity: float64(u.SecretsCalls)},
		{Price: EmailMessage, Quantity: float64(u.Emails)},
	}
	total := 0.0
	for i := range lines {
		lines[i].USD = lines[i].Price.Cost(lines[i].Quantity)
		total += lines[i].USD
	}
	return lines, total
}

// thousands writes a whole number with comma separators: 10000 → "10,000".
func thousands(n float64) string {
	s := strconv.FormatInt(int64(n), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
