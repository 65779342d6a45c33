/**
 * Property test over random order flows through the real application (fast-check):
 * after every block, nobody traded at a price worse than their limit, a cleared auction
 * matched a positive quantity, Σ longs = Σ shorts in every market, the solvency check
 * holds, and the uusdc supply never changes. (That the auction price maximises volume
 * among all candidate prices is the matcher's own property test, auction.spec.ts.)
 */
import fc from "fast-check";
import { chain, msg } from "../util/chain";
import { Dec } from "../../chain/math/decimal";
import * as ClTx from "../../client/src/generated/backstop/clearing/v1/tx";
import * as ClQ from "../../client/src/generated/backstop/clearing/v1/query";
import * as MarginTx from "../../client/src/generated/backstop/margin/v1/tx";
import { Side, TimeInForce } from "../../client/src/generated/backstop/clearing/v1/clearing";
import { QuerySupplyOfRequest, QuerySupplyOfResponse } from "cosmjs-types/cosmos/bank/v1beta1/query";

const arbOrder = fc.record({
  trader: fc.integer({ min: 1, max: 4 }),
  buy: fc.boolean(),
  // SOL-USD: tick 0.001, step 0.01; prices within ±3% of 150.
  ticks: fc.integer({ min: 145_500, max: 154_500 }),
  steps: fc.integer({ min: 1, max: 500 }),
  tif: fc.constantFrom(TimeInForce.TIME_IN_FORCE_GTC, TimeInForce.TIME_IN_FORCE_IOC),
});

describe("clearing properties", () => {
  it("random order flows keep every invariant", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(arbOrder, { maxLength: 8 }), { minLength: 3, maxLength: 8 }), async (blocks) => {
        const c = await chain();
        const traders = [1, 2, 3, 4].map((i) => c.accounts[i]);
        c.block(traders.map((t) => [t, [msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner: t.address, amount: { denom: "uusdc", amount: "50000000000" } })]]));
        const supply = () => {
          const r = c.app.query({ path: "/cosmos.bank.v1beta1.Query/SupplyOf", data: QuerySupplyOfRequest.encode({ denom: "uusdc" }).finish(), height: 0n, prove: false });
          return BigInt(QuerySupplyOfResponse.decode(r.value).amount!.amount);
        };
        const supply0 = supply();
        const limits = new Map<string, { side: Side; price: Dec }>();
        for (const b of blocks) {
          const txs = b.map((o) => {
            const t = traders[o.trader - 1];
            const price = Dec.ratio(BigInt(o.ticks), 1000n, "floor").toString();
            const quantity = Dec.ratio(BigInt(o.steps), 100n, "floor").toString();
            return [t, [msg("/backstop.clearing.v1.MsgPlaceOrder", ClTx.MsgPlaceOrder, { owner: t.address, marketId: "SOL-USD", side: o.buy ? Side.SIDE_BUY : Side.SIDE_SELL, price, quantity, timeInForce: o.tif })]] as [typeof t, ReturnType<typeof msg>[]];
          });
          const results = c.block(txs);
          results.forEach((r, i) => {
            if (r.code === 0) {
              const id = ClTx.MsgPlaceOrderResponse.decode(c.msgResponses(r)[0]).orderId;
              const o = b[i];
              limits.set(id.toString(), { side: o.buy ? Side.SIDE_BUY : Side.SIDE_SELL, price: Dec.ratio(BigInt(o.ticks), 1000n, "floor") });
            }
          });
          // Nobody trades at a worse price than their limit.
          for (const f of c.lastEvents("backstop.clearing.v1.EventFill")) {
            const lim = limits.get(f.order_id)!;
            const p = Dec.parse(f.price);
            if (lim.side === Side.SIDE_BUY) expect(p.lte(lim.price)).toBe(true);
            else expect(p.gte(lim.price)).toBe(true);
          }
          // A cleared auction matched something.
          const auctions = c.lastEvents("backstop.clearing.v1.EventAuctionCleared").map((e) => e.result);
          for (const a of auctions) {
            if (!a.cleared) continue;
            expect(Dec.parse(a.matched_quantity).isPositive()).toBe(true);
          }
          const s = c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {});
          for (const m of s.markets) expect(m.longSize).toBe(m.shortSize);
          expect(s.holds).toBe(true);
          expect(supply()).toBe(supply0);
        }
        c.app.close();
      }),
      { numRuns: 25, seed: 42 },
    );
  });
});
