import Foundation
import MirrorConfig

/// The environment of a pipeline process a harness starts: this process's environment without any
/// npm-mirror setting (so nothing from the caller's shell changes the run), plus the given settings.
/// The registry a harness runs against is the simulator, whose signing keys are its own: they are
/// trusted from its `/-/npm/v1/keys` (`NPM_TRUST_REGISTRY_KEYS=true`) unless the settings say else.
public enum PipelineEnvironment {
    public static func make(_ settings: [Setting: String], base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        let names = Set(Setting.allCases.map(\.environmentName))
        var environment = base.filter { !names.contains($0.key) }
        environment[Setting.npmTrustRegistryKeys.environmentName] = "true"
        for (setting, value) in settings {
            environment[setting.environmentName] = value
        }
        return environment
    }
}
