"""The catalogue of problem types: every `code` a tanhui process answers with, in one table.

A problem document's `type` is "/problems/{code}" (RFC 9457 §3.1.1: a URI reference, here
relative, resolved against the gateway, which serves this table at GET /problems). The titles are
what a user reads in the console, in Chinese and English: a whole sentence about their request,
not an HTTP phrase. A new code is one new row of `_TABLE`; `tests` check that every code raised
anywhere is in it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemType:
    code: str
    status: int
    title_en: str
    title_zh: str
    description: str

    @property
    def uri(self) -> str:
        return type_uri(self.code)

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "type": self.uri, "status": self.status,
                "title_en": self.title_en, "title_zh": self.title_zh,
                "description": self.description}


# code: (status, title_en, title_zh, description). Grouped by where it comes from.
_TABLE: dict[str, tuple[int, str, str, str]] = {
    # --- any request (shared web layer and the gateway) ---
    "invalid-request": (422, "Some fields of the request are missing or invalid.",
                        "请求中有字段缺失或不合规。",
                        "Validation refused the request; `errors` lists each field, the kind of "
                        "error (pydantic's type) and its limits (`ctx`)."),
    "bad-request": (400, "The request could not be read.", "无法读取该请求。",
                    "The request is malformed in a way no field names."),
    "bad-content-length": (400, "The request's Content-Length is not a valid number.",
                           "请求的 Content-Length 不是有效的数字。",
                           "Content-Length must be a non-negative integer."),
    "unreadable-login": (400, "The sign-in request could not be read.", "无法读取该登录请求。",
                         "The gateway could not read the user name from the sign-in body."),
    "token-required": (401, "Please sign in first.", "请先登录。",
                       "The operation needs a bearer token and none was sent."),
    "invalid-token": (401, "Your sign-in has expired or is not valid; please sign in again.",
                      "登录已过期或无效，请重新登录。",
                      "The bearer token was refused: signature, expiry, issuer or audience."),
    "metrics-token-required": (401, "The metrics need their own bearer token.",
                               "查看监控指标需要专用令牌。",
                               "/metrics answers only with the metrics bearer token."),
    "role-required": (403, "Your account's role may not do this.", "您的账户角色无权执行此操作。",
                      "The operation needs one of the roles named in `detail`."),
    "no-route": (404, "There is no such page or API address.", "没有这个页面或接口地址。",
                 "No route answers this path."),
    "method-not-allowed": (405, "This address does not accept this kind of request.",
                           "该地址不接受这种请求方式。", "The path answers other methods (Allow)."),
    "request-timeout": (408, "The request took too long to arrive; please send it again.",
                        "请求传输超时，请重新发送。",
                        "The client sent its headers or body too slowly."),
    "body-too-large": (413, "The request is too large.", "请求内容过大。",
                       "The body passes this route's size limit."),
    "rate-limited": (429, "Too many requests; please wait a moment and try again.",
                     "请求过于频繁，请稍后再试。", "A rate limit was reached; see Retry-After."),
    "headers-too-large": (431, "The request's headers are too large.", "请求头过大。",
                          "The request's headers together pass the gateway's limit."),
    "internal-error": (500, "Something went wrong on our side; please quote the request id.",
                       "系统内部出错，请提供请求编号以便排查。",
                       "An unexpected error; the request id finds it in the logs."),
    "service-unavailable": (503, "The service is unavailable right now; please try again shortly.",
                            "服务暂时不可用，请稍后再试。",
                            "A service did not accept the connection."),
    "rate-limit-unavailable": (503, "Changes are paused for a moment; please try again shortly.",
                               "暂时无法提交修改，请稍后再试。",
                               "The rate-limit store is unreachable, so writes are refused."),
    "database-unavailable": (503, "The database is unavailable; please try again shortly.",
                             "数据库暂时不可用，请稍后再试。",
                             "Retry with the same Idempotency-Key."),
    "service-busy": (503, "The service is busy; please try again shortly.",
                     "服务繁忙，请稍后再试。", "Every database connection is in use."),
    "service-timeout": (504, "The service did not answer in time; please try again.",
                        "服务响应超时，请重试。", "The upstream service did not answer in time."),
    "idempotency-key-invalid": (422, "The Idempotency-Key header is not valid.",
                                "Idempotency-Key 请求头无效。",
                                "Printable characters, up to the length in `detail`."),
    "idempotency-in-progress": (409, "The same request is still being processed; please wait.",
                                "相同的请求仍在处理中，请稍候。",
                                "A request with this Idempotency-Key has not finished."),
    "idempotency-key-reused": (422, "This Idempotency-Key was already used for a different "
                               "request.", "该 Idempotency-Key 已用于另一个不同的请求。",
                               "Use a new key for a new request."),
    "nul-character": (422, "A field contains a character that cannot be stored.",
                      "字段中含有无法保存的字符。", "NUL characters are refused."),
    "unknown-problem-type": (404, "There is no such error type.", "没有这种错误类型。",
                             "GET /problems lists every code."),
    # --- database constraints (a race or an unchecked path; the sentence is in `detail`) ---
    "constraint-violation": (409, "The request conflicts with the data already recorded.",
                             "该请求与已记录的数据冲突。", "An unnamed or unknown constraint."),
    "record-exists": (409, "This was already recorded, possibly by another request just now.",
                      "该记录已存在，可能刚被另一个请求写入。", "A unique constraint."),
    "record-overlaps": (409, "This overlaps something already recorded.",
                        "该记录与已记录的内容重叠。", "An exclusion constraint."),
    "record-rule": (409, "The data break one of the platform's rules.",
                    "数据不符合平台的规则。", "A check constraint."),
    "reference-missing": (409, "Something this refers to does not exist.",
                          "所引用的对象不存在。", "A foreign-key constraint."),
    # --- sign-in and accounts ---
    "sign-in-refused": (401, "The user name, password or client credentials are wrong.",
                        "用户名、密码或客户端凭据不正确。", "OAuth 2 error in `error`."),
    "token-request-field-missing": (422, "A field this kind of sign-in needs is missing.",
                                    "这种登录方式所需的字段缺失。",
                                    "username/password or client_id/client_secret."),
    "client-secret-twice": (400, "Send the client secret only once.", "客户端密钥只能提交一次。",
                            "By HTTP Basic or in the form, not both."),
    "unsupported-grant-type": (400, "This kind of sign-in is not supported.",
                               "不支持这种登录方式。", "password or client_credentials."),
    "account-not-found": (404, "Your account no longer exists.", "您的账户已不存在。",
                          "The token's subject is gone."),
    "username-taken": (409, "This user name is already taken.", "该用户名已被占用。",
                       "Choose another user name."),
    "invalid-username": (422, "This user name cannot be used.", "该用户名不可用。",
                         "Length and characters are limited."),
    "weak-password": (422, "The password is too short or too common.", "密码太短或过于常见。",
                      "See `detail` for the rule."),
    "password-unchanged": (422, "The new password must differ from the current one.",
                           "新密码不能与当前密码相同。", ""),
    "wrong-password": (403, "The current password is wrong.", "当前密码不正确。", ""),
    "password-changed-meanwhile": (409, "Your password was changed meanwhile; please sign in again.",
                                   "密码已在其他地方被修改，请重新登录。", ""),
    "operator-has-no-password": (403, "Transit operators have no password: an administrator "
                                 "rotates their client secret.",
                                 "公交运营方没有密码，由管理员轮换其客户端密钥。", ""),
    "signing-key-in-use": (409, "This signing key is still in use.", "该签名密钥仍在使用中。",
                           "Rotate to a new key first."),
    "signing-key-not-found": (404, "There is no such signing key.", "没有这个签名密钥。", ""),
    # --- accreditation and licences (accounts, verification) ---
    "role-not-grantable": (422, "Only verifiers and transit operators are accredited or licensed.",
                           "只有核查机构和公交运营方需要认可或许可。", ""),
    "username-not-grantable": (409, "This user name belongs to another kind of account; choose "
                               "another.", "该用户名属于其他类型的账户，请另选一个。", ""),
    "range-reversed": (422, "The end of the range cannot come before its start.",
                       "区间的结束不能早于开始。", "e.g. until before since."),
    "validity-reversed": (422, "The end date cannot be before the start date.",
                          "结束日期不能早于开始日期。", "valid_to is the last valid day."),
    "licence-modes": (422, "A transit operator's licence names its travel modes; a verifier's "
                      "accreditation names none.",
                      "公交运营方的许可须写明出行方式，核查机构的认可则不写。", ""),
    "grant-overlap": (409, "This account already holds a grant for some of these days.",
                      "该账户在这些日期内已有有效的认可或许可。", "Revoke it or start after it."),
    "accreditation-not-found": (404, "There is no such accreditation or licence.",
                                "没有这项认可或许可。", ""),
    "accreditation-already-revoked": (409, "This accreditation was already revoked.",
                                      "这项认可已被撤销。", ""),
    "not-a-transit-operator": (409, "Only transit operators have client secrets.",
                               "只有公交运营方才有客户端密钥。", ""),
    "no-client-credentials": (404, "This operator has no client credentials.",
                              "该运营方没有客户端凭据。", ""),
    "not-accredited": (403, "You hold no valid accreditation for this.",
                       "您没有执行此操作所需的有效认可。", ""),
    "accreditation-expired": (403, "Your accreditation has expired.", "您的认可已过期。", ""),
    "accreditation-not-yet-valid": (403, "Your accreditation is not valid yet.",
                                    "您的认可尚未生效。", ""),
    "accreditation-revoked": (403, "Your accreditation was revoked.", "您的认可已被撤销。", ""),
    "accreditation-holder-mismatch": (409, "This accreditation is recorded for another user.",
                                      "这项认可登记在另一位用户名下。", ""),
    "operator-not-licensed": (403, "Your licence does not cover these trips.",
                              "您的许可不涵盖这些出行记录。", "No trips were recorded."),
    # --- citizens: trips, points, redemptions ---
    "trip-not-credited": (422, "This trip cannot earn points.", "这次出行无法获得积分。",
                          "Outside the claim window, implausible, or overlapping; see `reason`."),
    "insufficient-points": (409, "You do not have enough available points for this.",
                            "您的可用积分不足。", ""),
    "points-changed-meanwhile": (409, "A citizen's points changed while the trips were "
                                 "recorded; send the feed again.",
                                 "记录出行期间市民的积分发生了变化，请重新提交。",
                                 "Nothing of the feed was recorded."),
    "no-points-account": (404, "You have no personal carbon account yet.",
                          "您还没有个人碳账户。", "It is opened when the account registers."),
    "redemption-not-whole-units": (422, "Points are redeemed in whole redemption units.",
                                   "积分须按整数个兑换单位兑换。",
                                   "The unit's size is in `detail` (accounts' RULES)."),
    "redemption-not-found": (404, "There is no such redemption of yours.", "没有您的这笔兑换。", ""),
    # --- enterprises, reports and factors ---
    "enterprise-not-found": (404, "There is no such enterprise of yours.", "没有您的这家企业。", ""),
    "report-not-found": (404, "There is no such report you may act for.",
                         "没有您可操作的这份报告。", ""),
    "claim-decided": (409, "This claim was already decided.", "该认领已经有了决定。", ""),
    "uscc-confirmed": (409, "Another claim to this credit code is already confirmed.",
                       "该统一社会信用代码已被另一认领确认。", ""),
    "uscc-already-claimed": (409, "You already claim this credit code.",
                             "您已认领过该统一社会信用代码。", "Wait for the regulator."),
    "rejection-needs-reason": (422, "Say why the claim is rejected.", "请填写驳回理由。",
                               "The enterprise reads it."),
    "period-already-filed": (409, "A report for this period is already filed; file a revision "
                             "instead.", "该期间的报告已提交，请提交修订版本。", ""),
    "report-superseded": (409, "This report was superseded; revise the current one.",
                          "该报告已被新版本取代，请修订当前版本。", ""),
    "report-filed-meanwhile": (409, "Another request filed this period's report at the same "
                               "time; read it and revise if needed.",
                               "另一个请求同时提交了该期间的报告，请查看后按需修订。", ""),
    "invalid-activity": (422, "An activity line of the report is not valid.",
                         "报告中的某条活动数据无效。", "`field` names the line."),
    "unknown-factor": (422, "There is no such emission factor.", "没有这个排放因子。", ""),
    "factor-not-valid-for-period": (422, "No version of this emission factor is valid for the "
                                    "period.", "该排放因子没有适用于此期间的版本。", ""),
    "factor-scope": (422, "Reports take scope 1 and 2 factors only.",
                     "报告只采用范围一和范围二的排放因子。", ""),
    "factor-version-exists": (409, "This factor version is already published.",
                              "该排放因子版本已发布。", "Give the new values a new version."),
    "factor-version-overlap": (409, "This factor version's validity overlaps another's.",
                               "该排放因子版本的有效期与另一版本重叠。", ""),
    # --- forestry projects, monitoring, losses (verification) ---
    "project-not-found": (404, "There is no such project.", "没有这个项目。", ""),
    "monitoring-report-not-found": (404, "There is no such monitoring report.",
                                    "没有这份监测报告。", ""),
    "loss-not-found": (404, "There is no such loss event.", "没有这个损失事件。", ""),
    "not-the-developer": (403, "Only the project's developer can do this.",
                          "只有项目业主才能执行此操作。", ""),
    "conflict-of-interest": (403, "You may not decide on this project: a conflict of interest.",
                             "存在利益冲突，您不能对该项目作出决定。", ""),
    "illegal-transition": (409, "The project is not in a state that allows this.",
                           "项目当前的状态不允许此操作。", ""),
    "not-registered": (409, "Only a registered project can do this.",
                       "只有已登记的项目才能执行此操作。", ""),
    "rule-violation": (422, "The project breaks a rule of its methodology.",
                       "项目不符合其方法学的规定。", "`field` names the input."),
    "filing-incomplete": (422, "A field the project's methodology requires is missing.",
                          "缺少项目方法学要求填写的字段。", "`field` names it."),
    "field-not-nullable": (422, "This field cannot be emptied: leave it out to keep it.",
                           "该字段不能清空：不填写即保留原值。", ""),
    "conflicting-filters": (422, "Two filters ask for different things: send one.",
                            "两个筛选条件相互矛盾，请只保留一个。", "state and status."),
    "certificate-in-use": (409, "This forest-rights certificate is already used by another "
                           "project.", "该林权证已被另一项目使用。", ""),
    "certificate-empty": (422, "The forest-rights certificate number is empty.",
                          "林权证编号为空。", ""),
    "period-overlap": (409, "This period overlaps an earlier monitoring period.",
                       "该期间与之前的监测期重叠。", ""),
    # --- credits: holdings, registry, market, events ---
    "insufficient-credits": (409, "The holding has too few credits for this.",
                             "这笔持有量中的碳汇不足。", ""),
    "no-holding-account": (404, "There is no holding account for this user.",
                           "该用户没有持有账户。", ""),
    "recipient-not-found": (404, "There is no holding account for this recipient.",
                            "收款方没有持有账户。", ""),
    "self-transfer": (422, "You cannot transfer credits to yourself.", "不能向自己转让碳汇。", ""),
    "block-already-closed": (409, "These credits were moved or retired meanwhile.",
                             "这些碳汇已在此期间被转让或注销。", ""),
    "credits-moved-meanwhile": (409, "These credits were moved or retired by another request at "
                                "the same time; nothing was written.",
                                "这些碳汇同时被另一个请求转让或注销，本次未做任何修改。", ""),
    "serial-not-found": (404, "This serial number was never issued.", "该序列号从未签发。", ""),
    "invalid-serial": (422, "This is not a valid serial number or range.",
                       "这不是有效的序列号或序列号区间。", ""),
    "serial-or-project-required": (422, "Give a serial number or a project.",
                                   "请提供序列号或项目。", ""),
    "compensation-not-found": (404, "There is no compensation for this loss.",
                               "该损失没有补偿记录。", ""),
    "certificate-not-found": (404, "There is no such certificate.", "没有这张证书。", ""),
    "certificate-font-missing": (503, "The certificate cannot be drawn right now.",
                                 "暂时无法生成证书。", "The CJK font is not installed."),
    "registry-number-mismatch": (409, "The project already has another registry number.",
                                 "该项目已有另一个登记编号。", ""),
    "already-issued": (409, "Credits were already issued for this monitoring report.",
                       "该监测报告的碳汇已经签发。", ""),
    "listing-not-found": (404, "There is no such listing.", "没有这个挂牌。", ""),
    "listing-not-open": (409, "This listing is no longer open.", "该挂牌已不再开放。", ""),
    "listing-exhausted": (409, "The listing has fewer credits left than asked.",
                          "该挂牌剩余的碳汇不足。", ""),
    "own-listing": (422, "You cannot buy from your own listing; cancel it instead.",
                    "不能购买自己的挂牌，请改为撤销。", ""),
    "not-the-seller": (403, "Only the seller can do this to a listing.",
                       "只有卖方才能对该挂牌执行此操作。", ""),
    "mine-only": (422, "Only your own records are listed here: add mine=true.",
                  "这里只列出您自己的记录：请加上 mine=true。", ""),
    "status-needs-mine": (422, "The status filter applies to your own listings: add mine=true.",
                          "状态筛选仅适用于您自己的挂牌：请加上 mine=true。", ""),
    "event-not-found": (404, "There is no such event of yours.", "没有您的这个活动。", ""),
    "not-the-organizer": (403, "Only the event's organizer can do this.",
                          "只有活动的组织方才能执行此操作。", ""),
    "event-not-over": (409, "The event is not over yet.", "活动尚未结束。", ""),
    "nothing-uncovered": (409, "The event's emissions are already fully offset.",
                          "该活动的排放已全部抵消。", ""),
    "zero-estimate": (422, "The estimate is zero: give a quantity.", "估算结果为零，请填写数量。",
                      ""),
    "negative-activity-data": (422, "Activity data cannot be negative.", "活动数据不能为负数。",
                               ""),
}

PROBLEM_TYPES: dict[str, ProblemType] = {
    code: ProblemType(code, *row) for code, row in _TABLE.items()}

# What an answer without a code of its own is filed under, by status (HTTPException, 404s...).
BY_STATUS: dict[int, str] = {
    400: "bad-request", 401: "token-required", 403: "role-required", 404: "no-route",
    405: "method-not-allowed", 408: "request-timeout", 409: "constraint-violation",
    413: "body-too-large", 422: "invalid-request", 429: "rate-limited",
    431: "headers-too-large", 500: "internal-error", 503: "service-unavailable",
    504: "service-timeout",
}


def type_uri(code: str) -> str:
    return f"/problems/{code}"


def code_for_status(status: int) -> str:
    return BY_STATUS.get(status, "internal-error" if status >= 500 else "bad-request")


def catalogue() -> list[dict[str, object]]:
    return [problem.as_json() for problem in PROBLEM_TYPES.values()]
