import CoreMetrics
import Logging
import ServiceLifecycle
import Synchronization
import WorkerStore

/// Fires the durable schedules inside `worker run`: sleeps until the earliest next tick of the active schedules
/// (looking again at least every `refresh`, so that schedules added, paused or removed meanwhile take effect
/// without a restart), then runs the store's fire transaction. Every worker does this; the store makes each tick
/// fire once whatever the number of workers, so nobody needs to lead. A worker that is not `ready` (starting,
/// quiet, draining, stopping) fires nothing.
struct ScheduleService: Service {
    let journal: any JobStore
    let worker: String
    let readiness: Readiness
    let metrics: JobMetrics
    let logger: Logger
    /// The longest sleep between two looks.
    var refresh: Duration = .seconds(1)

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                // The ticks that fell due since this worker opened intake are on time, however late its first look
                // comes on a loaded machine; those before, that no peer decided, were missed while no worker ran.
                let opened = OpenedAt()
                readiness.observe { change in if change.phase == .ready { opened.mark() } }
                if readiness.phase != .starting { opened.mark() }
                while true {
                    var delay = refresh
                    if readiness.phase == .ready {
                        do {
                            let round = try await journal.fireDueSchedules(
                                worker: worker, onTimeWithin: ContinuousClock.now - (opened.instant ?? .now))
                            report(round)
                            if let next = round.nextTick {
                                // A millisecond past the tick: the store's clock must have reached it.
                                delay = min(refresh, .microseconds(max(0, next - round.now)) + .milliseconds(1))
                            }
                        } catch is CancellationError {
                            throw CancellationError()
                        } catch {
                            // The dispatcher's own writes show real journal trouble; a busy or lost round is tried
                            // again (another worker may have fired meanwhile: the ticks stay exactly once).
                            logger.warning("schedules not fired, looking again in \(refresh): \(error)")
                        }
                    } else if readiness.phase == .starting {
                        delay = .milliseconds(50)
                    }
                    try await Task.sleep(for: delay)
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// One log line per schedule that decided anything (a huge miss is one line with its count), and the counters.
    private func report(_ round: ScheduleRound) {
        for firing in round.firings {
            let fired = firing.fired.count, skipped = firing.skipped.count, missed = firing.missed
            guard fired + skipped + missed > 0 else { continue }
            metrics.countTicks(schedule: firing.schedule, fired: fired, skipped: skipped, missed: missed)
            var parts: [String] = []
            if fired > 0 {
                let jobs = firing.fired.map { String($0.job) }
                parts.append("fired \(fired) tick(s) (job\(fired == 1 ? "" : "s") \(jobs.count > 5 ? "\(jobs[0])...\(jobs[jobs.count - 1])" : jobs.joined(separator: ", ")))")
            }
            if skipped > 0 { parts.append("skipped \(skipped) (previous job unfinished)") }
            if missed > 0 { parts.append("missed \(missed) while no worker ran") }
            logger.info("schedule \(firing.schedule): \(parts.joined(separator: ", "))")
        }
    }
}

/// When intake opened (the first time), read by the service's loop.
private final class OpenedAt: Sendable {
    private let value = Mutex<ContinuousClock.Instant?>(nil)

    func mark() { value.withLock { $0 = $0 ?? .now } }

    var instant: ContinuousClock.Instant? { value.withLock { $0 } }
}

extension JobMetrics {
    /// The names of the schedules' counters, as exported: ticks fired, skipped (overlap) and missed.
    public static func scheduleCounterName(_ outcome: ScheduleOutcome) -> String { "worker_schedule_\(outcome.rawValue)_total" }

    /// Counts the decisions of one fire of `schedule`.
    func countTicks(schedule: String, fired: Int, skipped: Int, missed: Int) {
        for (outcome, count) in [(ScheduleOutcome.fired, fired), (.skipped, skipped), (.missed, missed)] where count > 0 {
            Counter(label: Self.scheduleCounterName(outcome), dimensions: [("schedule", schedule)], factory: factory)
                .increment(by: Int64(count))
        }
    }
}
