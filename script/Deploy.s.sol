// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Assembly} from "../contracts/Assembly.sol";
import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {
    IBondingManager,
    ILivepeerController,
    ILivepeerGovernor,
    IPollCreator,
    IRoundsManager
} from "../contracts/interfaces/ILivepeer.sol";
import {LivepeerPolls} from "../contracts/libraries/LivepeerPolls.sol";
import {MockBondingManager} from "../contracts/mocks/MockBondingManager.sol";
import {MockController} from "../contracts/mocks/MockController.sol";
import {MockGovernor} from "../contracts/mocks/MockGovernor.sol";
import {MockLivepeerToken} from "../contracts/mocks/MockLivepeerToken.sol";
import {MockPollCreator} from "../contracts/mocks/MockPollCreator.sol";
import {MockRoundsManager} from "../contracts/mocks/MockRoundsManager.sol";
import {NodeRegistry} from "../contracts/NodeRegistry.sol";
import {RecordAnchor} from "../contracts/RecordAnchor.sol";
import {vm} from "../test/utils/Vm.sol";

/// @notice Arbitrum's ArbSys precompile: the one function the deployment needs.
interface ArbSys {
    /// @notice The L2 block number (`block.number` on Arbitrum is the L1 block).
    function arbBlockNumber() external view returns (uint256);
}

/// @notice What both deployments share: Livepeer's contracts are found through its
/// Controller, Assembly is deployed against them, and a deployment file records where
/// everything is for the indexer and node (which never hard-code addresses).
abstract contract DeployBase {
    /// Arbitrum's system precompile.
    address internal constant ARBSYS = address(100);
    string internal constant ANVIL_MNEMONIC = "test test test test test test test test test test test junk";

    struct Livepeer {
        ILivepeerController controller;
        IBondingManager bondingManager;
        IRoundsManager roundsManager;
        ILivepeerGovernor governor;
        address token;
        IPollCreator pollCreator;
    }

    /// Resolves Livepeer's contracts by their Controller names; the governor may be given
    /// explicitly (`LIVEPEER_GOVERNOR`) where the Controller does not list it. PollCreator is
    /// not in the Controller: callers set it.
    function resolve(ILivepeerController controller) internal view returns (Livepeer memory lp) {
        lp.controller = controller;
        lp.bondingManager = IBondingManager(controller.getContract(keccak256("BondingManager")));
        lp.roundsManager = IRoundsManager(controller.getContract(keccak256("RoundsManager")));
        lp.token = controller.getContract(keccak256("LivepeerToken"));
        lp.governor = ILivepeerGovernor(
            vm.envOr("LIVEPEER_GOVERNOR", controller.getContract(keccak256("LivepeerGovernor")))
        );
    }

    /// The chain's own block number, from which the indexer scans. On Arbitrum `block.number`
    /// is the L1 block (what Livepeer's rounds and polls count), so the L2 block comes from
    /// the ArbSys precompile.
    function l2BlockNumber() internal view returns (uint256) {
        if (block.chainid == 42161 || block.chainid == 421614) return ArbSys(ARBSYS).arbBlockNumber();
        return block.number;
    }

    /// The cluster's contracts beside `floor`: the node registry (governed by `owner`) and
    /// the record's anchor, named in the deployment file by `writeDeployment`'s object.
    function deployCluster(address owner, Livepeer memory lp, Assembly floor) internal {
        NodeRegistry registry = new NodeRegistry(owner, lp.bondingManager);
        RecordAnchor anchor = new RecordAnchor(floor, registry);
        vm.serializeAddress("deployment", "nodeRegistry", address(registry));
        vm.serializeAddress("deployment", "recordAnchor", address(anchor));
    }

    function writeDeployment(string memory name, Livepeer memory lp, Assembly floor, uint256 deployBlock)
        internal
        returns (string memory json)
    {
        string memory k = "deployment";
        vm.serializeString(k, "network", name);
        vm.serializeUint(k, "chainId", block.chainid);
        vm.serializeUint(k, "deployBlock", deployBlock);
        vm.serializeAddress(k, "assembly", address(floor));
        vm.serializeAddress(k, "controller", address(lp.controller));
        vm.serializeAddress(k, "bondingManager", address(lp.bondingManager));
        vm.serializeAddress(k, "roundsManager", address(lp.roundsManager));
        vm.serializeAddress(k, "governor", address(lp.governor));
        vm.serializeAddress(k, "pollCreator", address(lp.pollCreator));
        json = vm.serializeAddress(k, "livepeerToken", lp.token);
    }

    function save(string memory name, string memory json) internal {
        vm.writeJson(json, string.concat(vm.projectRoot(), "/deployments/", name, ".json"));
    }

    /// The next Thursday 16:00 UTC after `t` (1970-01-01 was a Thursday).
    function nextThursday1600(uint256 t) internal pure returns (uint256 next) {
        uint256 week = 7 days;
        uint256 anchor = 16 hours;
        next = t - ((t - anchor) % week) + week;
    }
}

/// @notice Local chain (anvil): mocks of Livepeer behind a mock Controller, three demo
/// orchestrators and two delegators (anvil's accounts 1-5), an always-open floor, a weekly
/// Thursday session, and a sample treasury proposal with its debate.
/// @dev `forge script script/Deploy.s.sol:DeployLocal --rpc-url $RPC --broadcast`
contract DeployLocal is DeployBase {
    /// The CIDv0 of script/demo/sample-lip.json, which `script/start` serves from a local
    /// gateway stand-in (tools/ipfs/gateway.py --cid prints it).
    string internal constant SAMPLE_LIP_CID = "QmRkooLskHTkkr5DmkbP9fdzTqJgK1iFa6p5S4Z3Yr13J9";

    function run() external returns (Assembly floor) {
        uint256 deployer = vm.envOr("DEPLOYER_KEY", vm.deriveKey(ANVIL_MNEMONIC, 0));
        uint256 deployBlock = l2BlockNumber();
        address[] memory orchestrators = new address[](3);
        address[] memory delegators = new address[](2);
        for (uint32 i; i < 3; ++i) orchestrators[i] = vm.addr(vm.deriveKey(ANVIL_MNEMONIC, 1 + i));
        for (uint32 i; i < 2; ++i) delegators[i] = vm.addr(vm.deriveKey(ANVIL_MNEMONIC, 4 + i));

        vm.startBroadcast(deployer);
        Livepeer memory lp = deployMocks(orchestrators, delegators);
        floor = new Assembly(
            vm.addr(deployer), lp.bondingManager, lp.roundsManager, lp.governor, lp.token, lp.pollCreator, localDefaults()
        );
        uint256[3] memory sessions = demoSessions(floor, lp, orchestrators[0]);
        deployCluster(vm.addr(deployer), lp, floor);
        vm.stopBroadcast();
        // A poll needs 100 LPT of stake behind its creator: the first demo orchestrator makes it.
        vm.startBroadcast(vm.deriveKey(ANVIL_MNEMONIC, 1));
        uint256 pollSession = samplePoll(floor, lp);
        vm.stopBroadcast();

        string memory k = "deployment";
        vm.serializeAddress(k, "orchestrators", orchestrators);
        vm.serializeAddress(k, "delegators", delegators);
        vm.serializeUint(k, "alwaysOnSession", sessions[0]);
        vm.serializeUint(k, "weeklySession", sessions[1]);
        vm.serializeUint(k, "debateSession", sessions[2]);
        vm.serializeUint(k, "pollDebateSession", pollSession);
        // DEPLOYMENT_NAME lets tests deploy side by side without touching deployments/local.json.
        string memory name = vm.envOr("DEPLOYMENT_NAME", string("local"));
        save(name, writeDeployment(name, lp, floor, deployBlock));
    }

    /// An open floor that is always in session, the weekly Thursday assembly, and the debate
    /// of a sample treasury proposal (opened here by the deployer; anyone could).
    function demoSessions(Assembly floor, Livepeer memory lp, address recipient)
        internal
        returns (uint256[3] memory ids)
    {
        IAssembly.SessionParams memory p;
        p.start = uint40(block.timestamp + 30);
        p.duration = floor.FOREVER();
        p.speakers = IAssembly.Speakers.Orchestrators;
        ids[0] = floor.createSession(p);
        p.start = uint40(nextThursday1600(block.timestamp));
        p.duration = 1 hours;
        p.period = 7 days;
        p.speakers = IAssembly.Speakers.OrchestratorsAndDelegators;
        ids[1] = floor.createSession(p);

        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas, string memory description) =
            sampleProposal(lp.token, recipient);
        MockGovernor(address(lp.governor)).propose(targets, values, calldatas, description);
        ids[2] = floor.openDebate(targets, values, calldatas, keccak256(bytes(description)));
    }

    /// The poll of a sample LIP (`SAMPLE_LIP_CID`, the UTF-8 of its CID as Livepeer Explorer
    /// submits it) and its debate. PollCreator is new, so this is its first poll: nonce 1.
    function samplePoll(Assembly floor, Livepeer memory lp) internal returns (uint256) {
        lp.pollCreator.createPoll(bytes(vm.envOr("SAMPLE_LIP_CID", string(SAMPLE_LIP_CID))));
        return floor.openPollDebate(LivepeerPolls.createdAt(address(lp.pollCreator), 1), 1);
    }

    function deployMocks(address[] memory orchestrators, address[] memory delegators)
        internal
        returns (Livepeer memory)
    {
        MockController controller = new MockController();
        // Livepeer's Arbitrum rounds: 5760 L1 blocks (about 19 hours).
        MockRoundsManager rounds = new MockRoundsManager(5760, 3000);
        // Livepeer's active set on Arbitrum One: 100 orchestrators.
        MockBondingManager bonding = new MockBondingManager(rounds, 100);
        MockGovernor governor = new MockGovernor(rounds, 1, 10);
        MockLivepeerToken token = new MockLivepeerToken();
        controller.setContractInfo(keccak256("BondingManager"), address(bonding), bytes20(0));
        controller.setContractInfo(keccak256("RoundsManager"), address(rounds), bytes20(0));
        controller.setContractInfo(keccak256("LivepeerToken"), address(token), bytes20(0));
        controller.setContractInfo(keccak256("LivepeerGovernor"), address(governor), bytes20(0));
        for (uint256 i; i < orchestrators.length; ++i) {
            token.mint(orchestrators[i], 10_000 ether);
            bonding.setBonded(orchestrators[i], orchestrators[i], (10_000 + 5_000 * i) * 1 ether);
            bonding.setActive(orchestrators[i], true);
        }
        for (uint256 i; i < delegators.length; ++i) {
            token.mint(delegators[i], 1_000 ether);
            bonding.setBonded(delegators[i], orchestrators[i], (500 + 250 * i) * 1 ether);
        }
        token.mint(address(governor), 100_000 ether);
        Livepeer memory lp = resolve(controller);
        lp.pollCreator = new MockPollCreator(bonding);
        return lp;
    }

    function sampleProposal(address token, address recipient)
        internal
        pure
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calldatas, string memory description)
    {
        targets = new address[](1);
        targets[0] = token;
        values = new uint256[](1);
        calldatas = new bytes[](1);
        calldatas[0] = abi.encodeWithSignature("transfer(address,uint256)", recipient, 2_500 ether);
        description = "# Fund Assembly transcription\nPay orchestrators running the Hansard's speech-to-text.";
    }

    function localDefaults() internal pure returns (IAssembly.Defaults memory) {
        return IAssembly.Defaults({
            slotLength: 120,
            maxQueue: 16,
            debateDuration: 1 hours,
            debateLead: 1 hours,
            debateNotice: 5 minutes,
            l1BlockTime: 12,
            debateSpeakers: IAssembly.Speakers.OrchestratorsAndDelegators,
            minDelegatorStake: 1 ether
        });
    }
}

/// @notice Arbitrum One: Assembly against Livepeer's live contracts, found through its
/// Controller. Governance (`ASSEMBLY_OWNER`) is meant to be Livepeer's treasury timelock,
/// so sessions are then created by governance proposals.
/// @dev `ASSEMBLY_OWNER=0x... forge script script/Deploy.s.sol:DeployArbitrum --rpc-url $ARB --broadcast`
contract DeployArbitrum is DeployBase {
    /// Livepeer's Controller on Arbitrum One.
    address internal constant CONTROLLER = 0xD8E8328501E9645d16Cf49539efC04f734606ee4;
    /// Livepeer's PollCreator on Arbitrum One (not in the Controller; Livepeer Explorer and
    /// livepeer/protocol's deployments/arbitrumMainnet/PollCreator.json name it).
    address internal constant POLL_CREATOR = 0x8bb50806D60c492c0004DAD5D9627DAA2d9732E6;

    /// @notice The script was run against a chain other than Arbitrum One.
    error WrongChain(uint256 chainId);
    /// @notice `ASSEMBLY_OWNER` is not set: Assembly needs its governance address.
    error MissingOwner();
    /// @notice Livepeer's Controller has no address registered under `name`.
    error Unresolved(string name);

    function run() external returns (Assembly floor) {
        if (block.chainid != 42161) revert WrongChain(block.chainid);
        address owner = vm.envOr("ASSEMBLY_OWNER", address(0));
        if (owner == address(0)) revert MissingOwner();
        Livepeer memory lp = resolve(ILivepeerController(vm.envOr("LIVEPEER_CONTROLLER", CONTROLLER)));
        if (address(lp.bondingManager) == address(0)) revert Unresolved("BondingManager");
        if (address(lp.roundsManager) == address(0)) revert Unresolved("RoundsManager");
        if (address(lp.governor) == address(0)) revert Unresolved("LivepeerGovernor");
        if (lp.token == address(0)) revert Unresolved("LivepeerToken");
        lp.pollCreator = IPollCreator(vm.envOr("LIVEPEER_POLL_CREATOR", POLL_CREATOR));

        uint256 deployBlock = l2BlockNumber();
        vm.startBroadcast(vm.envUint("DEPLOYER_KEY"));
        floor = new Assembly(
            owner, lp.bondingManager, lp.roundsManager, lp.governor, lp.token, lp.pollCreator, defaults()
        );
        deployCluster(owner, lp, floor);
        vm.stopBroadcast();
        save("arbitrum-one", writeDeployment("arbitrum-one", lp, floor, deployBlock));
    }

    function defaults() internal pure returns (IAssembly.Defaults memory) {
        return IAssembly.Defaults({
            slotLength: 3 minutes,
            maxQueue: 16,
            debateDuration: 2 hours,
            debateLead: 1 days,
            debateNotice: 1 days,
            l1BlockTime: 12,
            debateSpeakers: IAssembly.Speakers.Orchestrators,
            minDelegatorStake: 100 ether
        });
    }
}
