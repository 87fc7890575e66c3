import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// The metrics operators alert on (issue 12, item 11), and docs/deploy/prometheus-alerts.yaml, which names them.
@Suite struct AlertRulesTests {
    @Test func deadJobsQueueAgeAndLiveWorkersAreServedAndEveryMetricTheRulesNameExists() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let dead = try await fixture.journal.enqueue(NewJob(handler: "fail", payload: #"{"times": 5}"#, maxAttempts: 1)).job.id
        // A job no loaded plugin runs: it waits in its queue, and its age grows.
        _ = try await fixture.journal.enqueue(NewJob(handler: "elsewhere", payload: "{}", queue: "reports"))
        let worker = try await fixture.start(["--admin", "127.0.0.1:0"])
        let port = try #require(await AdminEndpointTests.port(of: worker), "\(worker.log)")
        var metrics = ""
        let served = try await eventually(timeout: .seconds(60)) {
            metrics = try await HTTPProbe.get("/metrics", port: port).body
            return AdminEndpointTests.sample(metrics, #"worker_queue_jobs{queue="default",state="dead"}"#) == 1
                && (AdminEndpointTests.sample(metrics, #"worker_queue_oldest_queued_age_seconds{queue="reports"}"#) ?? 0) > 0
                && AdminEndpointTests.sample(metrics, "worker_live_workers") == 1
        }
        #expect(served, "\(metrics)")
        #expect(try await fixture.journal.job(dead).state == .dead)

        let rules = try String(contentsOfFile: "\(DeployRecipeTests.deployDirectory)/prometheus-alerts.yaml", encoding: .utf8)
        let named = Set(rules.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("expr:") }
            .flatMap { line in line.split { !($0.isLetter || $0.isNumber || $0 == "_") }.filter { $0.hasPrefix("worker_") }.map(String.init) })
        #expect(named.count >= 4, "\(named)")
        for name in named {
            #expect(metrics.split(separator: "\n").contains { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }, "\(name) is not served")
        }
        let yaml = try await runProcess("/usr/bin/env", [
            "python3", "-c", "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert all('expr' in r for g in d['groups'] for r in g['rules'])",
            "\(DeployRecipeTests.deployDirectory)/prometheus-alerts.yaml",
        ])
        #expect(yaml.status == 0 || yaml.stderr.contains("No module named 'yaml'"), "\(yaml.stderr)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit()?.status == 0, "\(worker.log)")
    }
}
