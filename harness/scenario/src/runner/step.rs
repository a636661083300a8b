//! A scenario step's action, carried out: each kind of step to what handles it.

use super::Run;
use crate::format::{Action, LinkSpec, PurchaseSpec, Step};
use payhil_faults::LinkState;
use payhil_model::ledger::Phase;
use payhil_protocol::{Request, Response, TxnKind};

impl Run {
    /// Carries out `step`; its summary line, or why it failed.
    pub(super) async fn step(&mut self, step: &Step) -> Result<String, String> {
        match &step.action {
            Action::SetClock(t) => self.set_clock(*t).await,
            Action::AdvanceClock(secs) => {
                // A terminal may act on the moved clock before it answers (forward what is due):
                // a host wait it announces then counts from the clock it was given.
                self.bench
                    .link
                    .host_waits
                    .set_clock(self.now.saturating_add(i64::from(*secs)));
                let r = self.request(&Request::AdvanceClock { secs: *secs }).await?;
                let want = self.now + i64::from(*secs);
                match r.get() {
                    Response::Clock { unix_s } if unix_s == want => {
                        self.now = want;
                        self.bench.link.host_waits.set_clock(want);
                        self.model.advance_clock(*secs);
                        self.bench.host.set_clock(want);
                        self.bench.transcript.set_clock(want);
                        Ok(format!("clock advanced {secs} s"))
                    }
                    other => Err(format!(
                        "AdvanceClock({secs}): expected Clock({want}), terminal answered {other:?}"
                    )),
                }
            }
            Action::Network(link) => {
                let (state, name) = match link {
                    LinkSpec::Up => (LinkState::Up, "up"),
                    LinkSpec::Down => (LinkState::Down, "down"),
                    LinkSpec::Blackhole => (LinkState::Blackhole, "blackhole"),
                };
                self.bench.proxy.set(state).await;
                self.announce_host_waits(false).await?;
                self.new_fault_epoch(self.faulty);
                // A link that is down refuses connections (nothing is sent); one that swallows
                // requests hides them from the host.
                if *link == LinkSpec::Blackhole {
                    self.sends_may_be_hidden();
                }
                match link {
                    LinkSpec::Blackhole => self.model.set_blackhole(),
                    other => self.model.set_network(*other == LinkSpec::Up),
                }
                Ok(format!("network {name}"))
            }
            Action::Faults(f) => {
                self.bench.proxy.set_faults(f.unwrap_or_default()).await;
                self.new_fault_epoch(f.is_some());
                if f.is_some() {
                    self.sends_may_be_hidden();
                }
                self.model.set_flaky(f.is_some());
                Ok(format!("faults {f:?}"))
            }
            Action::Purchases {
                count,
                amount,
                cards,
                expect,
            } => {
                for i in 0..*count as usize {
                    let spec = PurchaseSpec::bulk(cards[i % cards.len()].clone(), *amount);
                    self.purchase_with(step, &spec, expect.as_ref(), false)
                        .await
                        .map_err(|e| format!("purchase {} of {count}: {e}", i + 1))?;
                }
                Ok(format!("{count} purchases of {amount}"))
            }
            Action::ForwardUntilEmpty(max) => {
                for round in 1..=*max {
                    let q = self.forward().await?;
                    if q.pending == 0 {
                        let books = self.bench.host.books();
                        let tid = self.bench.device.terminal_id.clone();
                        self.model.queue_reported_empty(|seq| {
                            books.items.contains_key(&(tid.clone(), seq))
                        });
                        self.check_queue(&q, None)?;
                        return Ok(format!("queue empty after {round} forwarding rounds"));
                    }
                }
                Err(format!(
                    "offline queue not empty after {max} forwarding rounds"
                ))
            }
            Action::Purchase(spec, expect) => self.purchase(step, spec, expect.as_ref()).await,
            Action::Forward => {
                let q = self.forward().await?;
                self.check_queue(&q, None)
                    .map(|_| format!("forwarded; {} pending", q.pending))
            }
            Action::Capture { of, amount, expect } => {
                self.follow_up(step, TxnKind::Capture, *of, Some(*amount), expect.as_ref())
                    .await
            }
            Action::Reverse { of, expect } => {
                self.follow_up(step, TxnKind::Reversal, *of, None, expect.as_ref())
                    .await
            }
            Action::ExpectQueue(n, overdue, declined) => {
                let q = self.queue(&Request::QueueStatus).await?;
                self.check_queue(&q, Some(*n))
                    .and_then(|()| self.check_overdue(q.overdue, *overdue))
                    .and_then(|()| self.check_declined_by_host(q.declined_by_host, *declined))
                    .map(|_| format!("{} pending, {} overdue", q.pending, q.overdue))
            }
            Action::Settle => {
                let books = self.bench.host.books();
                self.artifacts.push(crate::Artifact {
                    name: "settlement".into(),
                    text: books.settlement_file(),
                });
                self.check_exactly_once(Phase::Running)?;
                Ok(format!(
                    "settlement written: {} items",
                    books.settled().count()
                ))
            }
            Action::Reconcile if self.bench.ecr.is_some() => self.ecr_reconcile().await,
            Action::Reconcile => {
                let r = self.request(&Request::Reconcile).await?;
                let Response::Totals(t) = r.get() else {
                    return Err(format!(
                        "Reconcile: expected Totals, terminal answered {:?}",
                        r.get()
                    ));
                };
                self.check_reconciliation(&t)?;
                Ok(format!("reconciled with the host: {:?}", t.host))
            }
            Action::PowerCut(spec) => self.arm(step, *spec).await,
            Action::PowerCycle => {
                let booted_before = self.bench.device.boot_count;
                // The new epoch starts before power-up: whatever the terminal sends once it is
                // up belongs to its new boot.
                self.new_fault_epoch(self.faulty);
                self.booted();
                self.bench
                    .power_cycle(self.boot_timeout)
                    .await
                    .map_err(|e| e.to_string())?;
                self.check_boot_count(booted_before)?;
                self.model.restarted();
                // A terminal's real-time clock keeps running through a power cut; the emulator's
                // controlled clock is given back its time.
                let now = self.now;
                self.set_clock(now).await?;
                // Nothing the harness saw approved may be lost or doubled by the cut.
                let q = self.queue(&Request::QueueStatus).await?;
                self.check_queue(&q, None)?;
                self.check_exactly_once(Phase::Running)?;
                Ok(format!(
                    "power cycled; boot {}",
                    self.bench.device.boot_count
                ))
            }
            Action::Serial(f) => Ok(self.serial(*f)),
        }
    }
}
