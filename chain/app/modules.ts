/**
 * The application's modules, wired together: keepers are built here and passed to
 * one another through the narrow interfaces each module declares. The order of the
 * list is the order of genesis and of the end-block hooks.
 */
import { ModuleManager } from "./module";
import { AuthKeeper } from "../x/auth/keeper";
import { AuthModule } from "../x/auth/module";
import { BankKeeper } from "../x/bank/keeper";
import { BankModule } from "../x/bank/module";
import { OracleKeeper } from "../x/oracle/keeper";
import { OracleModule } from "../x/oracle/module";
import { MarketKeeper } from "../x/clearing/markets";
import { ClearingModule } from "../x/clearing/module";
import { ClearingKeeper } from "../x/clearing/keeper";
import { MarginKeeper } from "../x/margin/keeper";
import { MarginModule } from "../x/margin/module";
import { InsuranceKeeper } from "../x/insurance/keeper";
import { InsuranceModule } from "../x/insurance/module";
import { FEE_COLLECTOR } from "./tx";

/** Accounts owned by modules: they hold coins, cannot sign, and cannot receive MsgSend. */
export const MODULE_ACCOUNTS = [FEE_COLLECTOR, "margin", "clearing", "insurance"] as const;

export interface AppModules {
  readonly auth: AuthKeeper;
  readonly bank: BankKeeper;
  readonly oracle: OracleKeeper;
  readonly markets: MarketKeeper;
  readonly margin: MarginKeeper;
  readonly insurance: InsuranceKeeper;
  readonly clearing: ClearingKeeper;
  readonly manager: ModuleManager;
}

export function buildModules(): AppModules {
  const auth = new AuthKeeper();
  const bank = new BankKeeper(auth, MODULE_ACCOUNTS);
  const oracle = new OracleKeeper();
  const markets = new MarketKeeper();
  const margin = new MarginKeeper(bank, oracle, markets);
  const insurance = new InsuranceKeeper(bank);
  const clearing = new ClearingKeeper(bank, markets, oracle, margin, insurance);
  // Genesis and end-block order: prices first, then markets, then margin ratios.
  const manager = new ModuleManager([
    new AuthModule(auth),
    new BankModule(bank),
    new OracleModule(oracle, auth),
    new ClearingModule(markets, oracle, margin, auth, clearing, insurance, bank),
    new MarginModule(margin, markets, auth),
    new InsuranceModule(insurance, auth),
  ]);
  return { auth, bank, oracle, markets, margin, insurance, clearing, manager };
}

/**
 * Every module's default genesis (its params; no accounts, feeders, markets or pools):
 * what `backstop init` writes without `--localnet`, for an operator to fill in.
 */
export function defaultAppState(): Record<string, unknown> {
  return Object.fromEntries(buildModules().manager.modules.map((m) => [m.name, m.defaultGenesis()]));
}
