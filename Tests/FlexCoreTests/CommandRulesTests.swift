import FlexCore
import Testing

@Suite("What each order state allows")
struct CommandRulesTests {
    @Test("a rejection is taken until the order is labelled; a labelled order must be shipped or cancelled")
    func rejection() {
        for state in [FulfilmentState.awaitingConfirmation, .confirmed, .packed] {
            #expect(CommandRules.refusal(.reject, state: state) == nil, "\(state)")
        }
        for state in [FulfilmentState.readyToShip, .shipped, .delivered] {
            #expect(
                CommandRules.refusal(.reject, state: state)?.contains("can no longer be rejected") == true,
                "\(state)"
            )
        }
        #expect(CommandRules.refusal(.ship, state: .readyToShip) == nil)
    }

    @Test("a cancelled or rejected order takes nothing more")
    func closed() {
        for type in CommandType.allCases {
            #expect(CommandRules.refusal(type, state: .cancelled) != nil)
            #expect(CommandRules.refusal(type, state: .rejected) != nil)
        }
    }
}
