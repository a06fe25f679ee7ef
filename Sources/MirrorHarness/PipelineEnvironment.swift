import Foundation
import MirrorConfig

/// The environment of a pipeline process a harness starts: this process's environment without any
/// npm-mirror setting (so nothing from the caller's shell changes the run), plus the given settings.
public enum PipelineEnvironment {
    public static func make(_ settings: [Setting: String], base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        let names = Set(Setting.allCases.map(\.environmentName))
        var environment = base.filter { !names.contains($0.key) }
        for (setting, value) in settings {
            environment[setting.environmentName] = value
        }
        return environment
    }
}
