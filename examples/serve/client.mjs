// Score one lead with `koncept serve rulesets/` running: node examples/serve/client.mjs
const base = process.env.KONCEPT_URL ?? "http://127.0.0.1:8000";
const lead = { id: "L1", budget: "confirmed", sector: "industrie", authority: "decision_maker",
               need: "urgent", timing_months: 2, employees: 300, source: "referral" };
const answer = await fetch(`${base}/v1/rulesets/fintech/lead`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },  // with --keys: Authorization: `Bearer ${key}`
  body: JSON.stringify(lead),
});
const body = await answer.json();
if (!answer.ok) throw new Error(`${answer.status} ${body.code}: ${body.message}`);
console.log(body.lead.status, body.lead.score, `(fintech ${body.ruleset.version})`);
