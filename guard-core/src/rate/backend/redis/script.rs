//! The decision script and the policy set that calls it: one `EVALSHA` per
//! decision, its parameters in microseconds, its reply read back as a
//! [`Verdict`].

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

use super::keys::KeyHasher;
use crate::rate::backend::{BackendError, Decide, Policy, PolicyLimit, PolicySet};
use crate::rate::{Decision, RateKey, Verdict};

/// The decision script; see the module docs. ARGV[1] is `1` to commit, `0`
/// to peek; then four values per key: kind (`g` GCRA, `q` quota) and three
/// integer parameters in microseconds (GCRA: interval, tolerance, burst;
/// quota: period, limit, unused). Returns `{allowed, index (1-based), remaining, wait_us}`.
/// Numbers written back are formatted with `%.0f`: Lua 5.1's `tostring`
/// keeps 14 digits, and a TAT in microseconds has 16.
const SCRIPT: &str = r"
local commit = ARGV[1] == '1'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local pending = {}
local writes = {}
local deny_i, deny_wait = 0, -1
local allow_i, allow_rem, allow_reset = 0, -1, 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local base = 1 + (i - 1) * 4
  local kind = ARGV[base + 1]
  local a = tonumber(ARGV[base + 2])
  local b = tonumber(ARGV[base + 3])
  local c = tonumber(ARGV[base + 4])
  local stored = pending[key]
  if stored == nil then stored = redis.call('GET', key) end
  local ok, rem, wait, value, ttl = false, 0, 0, nil, 0
  if kind == 'g' then
    local tat = nil
    if stored then tat = tonumber(stored) end
    if tat == nil or tat < now then tat = now end
    local new_tat = tat + a
    local debt = new_tat - now
    if debt <= b then
      ok = true
      rem = math.floor((b - debt) / a)
      if rem > c then rem = c end
      wait = debt
      value = string.format('%.0f', new_tat)
      ttl = math.ceil(debt / 1000)
    else
      wait = debt - b
    end
  else
    local window = math.floor(now / a)
    local reset = a - (now - window * a)
    local used = 0
    if stored then
      local w, u = string.match(stored, '^(%d+):(%d+)$')
      if w and tonumber(w) == window then used = tonumber(u) end
    end
    if used < b then
      ok = true
      rem = b - used - 1
      wait = reset
      value = string.format('%.0f:%.0f', window, used + 1)
      ttl = math.ceil(reset / 1000)
    else
      wait = reset
    end
  end
  if ok then
    pending[key] = value
    writes[#writes + 1] = {key, value, ttl}
    if allow_rem < 0 or rem < allow_rem then
      allow_i, allow_rem, allow_reset = i, rem, wait
    end
  elseif wait > deny_wait then
    deny_i, deny_wait = i, wait
  end
end
if deny_i > 0 then return {0, deny_i, 0, math.ceil(deny_wait)} end
if commit then
  for _, w in ipairs(writes) do
    redis.call('SET', w[1], w[2], 'PX', string.format('%.0f', w[3]))
  end
end
return {1, allow_i, allow_rem, math.ceil(allow_reset)}
";

static DECIDE: LazyLock<Script> = LazyLock::new(|| Script::new(SCRIPT));

/// Stores ARGV[1] at KEYS[1] unless the key exists; returns what the key
/// holds afterwards. One atomic step, so two instances starting together
/// cannot both believe they were first.
pub(super) const CLAIM_FINGERPRINT: &str = r"
local stored = redis.call('GET', KEYS[1])
if stored then return stored end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
";

/// Microsecond parameters are capped here so Lua's doubles stay exact
/// (2^52 µs is 142 years).
const MAX_US: u64 = 1 << 52;

/// A policy's key prefix and script parameters.
#[derive(Debug)]
pub(super) struct Params {
    pub(super) key_prefix: String,
    pub(super) args: [String; 4],
}

pub(super) fn script_args(limit: PolicyLimit) -> [String; 4] {
    match limit {
        PolicyLimit::Rate(spec) => {
            let interval_us = u64::try_from(spec.emission_interval().as_nanos().div_ceil(1_000))
                .unwrap_or(MAX_US)
                .clamp(1, MAX_US);
            let burst = spec.burst().get();
            let tolerance_us = interval_us.saturating_mul(u64::from(burst)).min(MAX_US);
            [
                "g".to_owned(),
                interval_us.to_string(),
                tolerance_us.to_string(),
                burst.to_string(),
            ]
        }
        PolicyLimit::Quota(spec) => [
            "q".to_owned(),
            (spec.unit().as_secs() * 1_000_000).to_string(),
            spec.count().get().to_string(),
            "0".to_owned(),
        ],
    }
}

pub(super) struct RedisSet {
    pub(super) conn: ConnectionManager,
    pub(super) hasher: Arc<KeyHasher>,
    pub(super) policies: Vec<Policy>,
    pub(super) params: Vec<Params>,
}

impl fmt::Debug for RedisSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSet")
            .field("policies", &self.policies)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl RedisSet {
    fn decide(&self, keys: &[Option<RateKey>], commit: bool) -> Decide {
        if keys.len() != self.params.len() {
            return Decide::ready(Err(BackendError::new(format_args!(
                "{} keys given for {} policies",
                keys.len(),
                self.params.len()
            ))));
        }
        let mut invocation = DECIDE.prepare_invoke();
        invocation.arg(if commit { "1" } else { "0" });
        let mut index = Vec::with_capacity(keys.len());
        for (i, (params, key)) in self.params.iter().zip(keys).enumerate() {
            let Some(key) = key else { continue };
            let mac = self.hasher.mac(&[b"key", &key.to_bytes()]);
            let mut name = params.key_prefix.clone();
            name.push_str(&hex::encode(mac.get(..16).unwrap_or_default()));
            invocation.key(name);
            for arg in &params.args {
                invocation.arg(arg);
            }
            index.push(i);
        }
        if index.is_empty() {
            return Decide::ready(Ok(Verdict::combine([])));
        }
        // The invocation borrows only the static script, so it moves into a
        // 'static future with its own connection handle.
        let mut conn = self.conn.clone();
        let future = async move {
            let reply: Vec<i64> = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(BackendError::new)?;
            verdict(&reply, &index)
        };
        Decide::pending(future)
    }
}

/// The script's reply as a verdict; anything unexpected is an error.
fn verdict(reply: &[i64], index: &[usize]) -> Result<Verdict, BackendError> {
    let &[allowed, at, remaining, wait_us] = reply else {
        return Err(BackendError::new(format_args!(
            "unexpected script reply {reply:?}"
        )));
    };
    let binding = usize::try_from(at)
        .ok()
        .and_then(|at| at.checked_sub(1))
        .and_then(|at| index.get(at).copied())
        .ok_or_else(|| BackendError::new(format_args!("unexpected script reply {reply:?}")))?;
    let wait = Duration::from_micros(u64::try_from(wait_us).unwrap_or(0));
    let decision = if allowed == 1 {
        Decision::Allowed {
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset_after: wait,
        }
    } else {
        Decision::Denied { retry_after: wait }
    };
    Ok(Verdict {
        decision,
        binding: Some(binding),
    })
}

impl PolicySet for RedisSet {
    fn policies(&self) -> &[Policy] {
        &self.policies
    }

    fn check(&self, keys: &[Option<RateKey>]) -> Decide {
        self.decide(keys, true)
    }

    fn peek(&self, keys: &[Option<RateKey>]) -> Decide {
        self.decide(keys, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_parameters_are_microseconds_and_capped() {
        let table = [
            ("10/min", ["g", "6000000", "60000000", "10"]),
            ("3/s", ["g", "333334", "1000002", "3"]),
            ("4294967295/s", ["g", "1", "4294967295", "4294967295"]),
            (
                "1/day, burst = 4294967295",
                ["g", "86400000000", "4503599627370496", "4294967295"],
            ),
        ];
        for (spec, want) in table {
            let args = script_args(PolicyLimit::Rate(spec.parse().unwrap()));
            assert_eq!(args, want.map(str::to_owned), "{spec}");
        }
        let quota = script_args(PolicyLimit::Quota("1000/day".parse().unwrap()));
        assert_eq!(quota, ["q", "86400000000", "1000", "0"].map(str::to_owned));
    }

    #[test]
    fn replies_map_to_verdicts_and_nonsense_is_an_error() {
        let index = [0, 2];
        let allowed = verdict(&[1, 2, 4, 1_500_000], &index).unwrap();
        assert_eq!(allowed.binding, Some(2));
        assert_eq!(
            allowed.decision,
            Decision::Allowed {
                remaining: 4,
                reset_after: Duration::from_millis(1_500)
            }
        );
        let denied = verdict(&[0, 1, 0, 7], &index).unwrap();
        assert_eq!(denied.binding, Some(0));
        assert_eq!(
            denied.decision.retry_after(),
            Some(Duration::from_micros(7))
        );
        for nonsense in [&[][..], &[1, 3, 0, 0], &[1, 0, 0, 0], &[1, 1, 0]] {
            assert!(verdict(nonsense, &index).is_err(), "{nonsense:?}");
        }
    }
}
