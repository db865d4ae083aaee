//! The console's words in Chinese (the default) and English (`?lang=en`, kept in a cookie).
//! Templates ask for a label by key (`t.get("today.title")`); a unit test checks that every
//! key a template asks for is in the table, so a page never shows a bare key.

/// The console's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch in the page's header.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// The labels of one language.
#[derive(Debug, Clone, Copy)]
pub struct T(pub Lang);

impl T {
    /// The label for `key`; the key itself when the table lacks it (a test keeps that
    /// from happening).
    pub fn get<'a>(&self, key: &'a str) -> &'a str {
        match LABELS.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self.0 {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => key,
        }
    }
}

/// (key, Chinese, English).
pub const LABELS: &[(&str, &str, &str)] = &[
    ("app.name", "景区边缘控制台", "Venue Edge console"),
    ("lang.switch", "English", "中文"),
    ("nav.today", "今日", "Today"),
    ("nav.reports", "报表", "Reports"),
    ("nav.visitor", "一码游", "One code"),
    ("nav.ticketing", "售票", "Ticketing"),
    ("nav.finance", "财务", "Finance"),
    ("nav.bills", "我的账单", "My bills"),
    ("nav.admin", "系统管理", "Administration"),
    ("signin.title", "登录", "Sign in"),
    ("signin.username", "用户名", "User name"),
    ("signin.password", "密码", "Password"),
    ("signin.submit", "登录", "Sign in"),
    (
        "signin.failed",
        "用户名或密码不正确",
        "Wrong user name or password",
    ),
    ("signout", "退出", "Sign out"),
    ("error.title", "出错了", "Something went wrong"),
    (
        "error.forbidden",
        "您的角色没有这个页面",
        "Your roles have no such page",
    ),
    ("error.not_found", "没有这个页面", "There is no such page"),
    ("error.back", "返回", "Back"),
    ("today.title", "今日概况", "Today"),
    ("today.areas", "各区域客流", "Areas"),
    ("today.area", "区域", "Area"),
    ("today.entries", "入园", "Entries"),
    ("today.exits", "出园", "Exits"),
    ("today.inside", "在园", "Inside"),
    ("today.instant_max", "瞬时上限", "Max at once"),
    ("today.sold", "已售", "Sold"),
    ("today.daily_max", "日上限", "Daily max"),
    ("today.no_limit", "不限", "no limit"),
    ("today.per_15", "每15分钟入园人数", "Entries per 15 minutes"),
    (
        "today.revenue_area",
        "今日收入(按区域)",
        "Revenue so far by area",
    ),
    (
        "today.revenue_category",
        "今日收入(按品类)",
        "Revenue so far by category",
    ),
    ("today.alerts", "告警", "Alerts"),
    ("today.no_alerts", "暂无告警", "No alerts"),
    ("today.devices", "设备", "Devices"),
    ("today.device", "设备", "Device"),
    ("today.kind", "类型", "Kind"),
    ("today.state", "状态", "State"),
    ("today.gate", "闸机", "Gate"),
    ("today.pos", "收银机", "POS"),
    ("today.online", "在线", "online"),
    ("today.offline", "离线", "offline"),
    (
        "today.refreshed",
        "每5秒自动刷新",
        "Refreshes every 5 seconds",
    ),
    ("sell.title", "窗口售票", "Sell at the window"),
    ("sell.product", "票种", "Product"),
    ("sell.real_name", "实名", "real name"),
    ("sell.date", "游玩日期", "Visit date"),
    ("sell.slot", "时段", "Slot"),
    ("sell.qty", "数量", "Quantity"),
    (
        "sell.visitors",
        "游客(每行: 姓名 证件号)",
        "Visitors (a line each: name ID number)",
    ),
    ("sell.visitors_example", "张三 身份证号", "Name ID-number"),
    ("sell.payment", "支付方式", "Payment"),
    ("sell.submit", "售出", "Sell"),
    ("cash", "现金", "cash"),
    ("wechat", "微信", "WeChat Pay"),
    ("alipay", "支付宝", "Alipay"),
    ("card", "银行卡", "card"),
    ("find.title", "查询订单", "Find an order"),
    (
        "find.hint",
        "订单号、票码或游客证件号",
        "Order id, ticket code or a visitor's ID number",
    ),
    ("find.submit", "查询", "Find"),
    ("find.none", "没有找到", "Nothing found"),
    ("order.title", "订单", "Order"),
    ("order.status", "状态", "Status"),
    ("order.channel", "渠道", "Channel"),
    ("order.total", "金额", "Total"),
    ("order.group", "团队码", "Group code"),
    ("paid", "已支付", "paid"),
    ("refunded", "已退款", "refunded"),
    ("valid", "有效", "valid"),
    ("used", "已使用", "used"),
    ("rebook.date", "改签日期", "New date"),
    ("rebook.submit", "改签", "Rebook"),
    ("refund.reason", "退款原因", "Reason for the refund"),
    (
        "refund.submit",
        "退全部未用票",
        "Refund every unused ticket",
    ),
    ("finance.title", "财务结算", "Finance"),
    ("finance.done", "已完成", "Done"),
    ("settle.title", "结算", "Settle"),
    ("settle.from", "从", "From"),
    ("settle.to", "到", "To"),
    ("settle.submit", "生成账单", "Settle"),
    ("settle.days", "天", "days"),
    ("settle.bills", "张账单", "bills"),
    ("bills.title", "账单", "Bills"),
    ("bills.all", "全部", "all"),
    ("bills.filter", "筛选", "Filter"),
    ("bill.title", "账单", "Bill"),
    ("bill.party", "结算方", "Party"),
    ("bill.contract", "合同", "Contract"),
    ("bill.period", "周期", "Period"),
    ("bill.status", "状态", "Status"),
    ("bill.approved_by", "审核人", "Approved by"),
    ("bill.reason", "意见", "Comment"),
    ("bill.line", "明细", "Line"),
    ("bill.category", "品类", "Category"),
    ("bill.basis", "基数(元)", "Basis (yuan)"),
    ("bill.rate", "费率", "Rate"),
    ("bill.amount", "金额(元)", "Amount (yuan)"),
    ("bill.gross", "收入", "Gross"),
    ("bill.refunds", "退款", "Refunds"),
    ("bill.cost", "成本", "Cost"),
    ("bill.net", "净额", "Net"),
    ("bill.share", "分成", "Share"),
    ("bill.commission", "佣金", "Commission"),
    ("bill.carry_in", "上期结转", "Carried in"),
    ("bill.carry_out", "结转下期", "Carried out"),
    ("bill.payable", "应付(元)", "Payable (yuan)"),
    ("bill.payout", "付款结果", "Payment"),
    ("bill.approve", "审核通过", "Approve"),
    ("bill.reject", "驳回", "Reject"),
    ("bill.pay", "付款", "Pay"),
    ("draft", "待审核", "draft"),
    ("approved", "已审核", "approved"),
    ("rejected", "已驳回", "rejected"),
    ("paying", "付款中", "paying"),
    ("failed", "付款失败", "failed"),
    ("payout.status", "付款状态", "State"),
    ("payout.amount", "金额(元)", "Amount (yuan)"),
    ("payout.account", "收款账户", "Account"),
    ("payout.provider_ref", "银行流水号", "Bank reference"),
    ("payout.reason", "银行说明", "Bank's reason"),
    ("payout.attempt", "第几次", "Attempt"),
    ("payout.updated_at", "更新时间", "Updated"),
    ("reports.revenue", "收入报表", "Revenue"),
    ("reports.period", "周期", "Period"),
    ("reports.by", "维度", "By"),
    ("reports.show", "查看", "Show"),
    ("reports.flow", "每小时客流", "Visitor flow by hour"),
    ("reports.consumption", "游客消费分析", "How visitors spend"),
    ("visitor.title", "一码一日", "One code, one day"),
    (
        "visitor.hint",
        "输入票码，查看该票当日的入园、出园和消费（POS 销售注明了票码的）。",
        "A ticket code's day: its entries, exits and the POS sales that name it.",
    ),
    ("visitor.code", "票码", "Ticket code"),
    (
        "visitor.date",
        "日期（默认游玩日）",
        "Date (default: visit date)",
    ),
    ("visitor.show", "查看", "Show"),
    ("visitor.product", "产品", "Product"),
    ("visitor.entries", "入园", "Entries"),
    ("visitor.exits", "出园", "Exits"),
    ("visitor.purchases", "消费笔数", "Purchases"),
    ("visitor.spend", "当日消费（元）", "Spend (yuan)"),
    ("visitor.time", "时间", "Time"),
    ("visitor.event", "事件", "Event"),
    ("visitor.where", "地点", "Where"),
    ("visitor.amount", "金额（元）", "Amount (yuan)"),
    ("visitor.none", "当日无记录", "Nothing that day"),
    ("visitor.kind.entry", "入园", "entry"),
    ("visitor.kind.exit", "出园", "exit"),
    ("visitor.kind.purchase", "消费", "purchase"),
    ("visitor.kind.refund", "退款", "refund"),
    ("visitor.kind.void", "撤销", "void"),
    ("day", "日", "day"),
    ("week", "周", "week"),
    ("month", "月", "month"),
    ("product", "票种", "product"),
    ("area", "区域", "area"),
    ("category", "品类", "category"),
    ("party", "结算方", "party"),
    ("merchant", "商户", "merchant"),
    ("cons.visitors", "游客数", "Visitors"),
    ("cons.spend", "人均二次消费", "POS spend per visitor"),
    (
        "cons.dwell",
        "停留时长 中位/90分位(分钟)",
        "Stay p50 / p90 (minutes)",
    ),
    ("cons.by_category", "按品类", "By category"),
    ("cons.share", "占比", "Share"),
    ("cons.top_skus", "畅销商品", "Top SKUs"),
    ("cons.merchant", "商户", "Merchant"),
    ("cons.by_channel", "按购票渠道", "By channel"),
    ("cons.ticket_net", "门票净收入(元)", "Ticket net (yuan)"),
    ("cons.origin", "客源地", "Where visitors come from"),
    ("cons.province", "省份", "Province"),
    ("cons.other", "其他", "other"),
    ("cons.by_hour", "按小时", "By hour"),
    ("cons.pos_net", "消费净额(元)", "POS net (yuan)"),
    ("cons.sales", "笔数", "Sales"),
    (
        "admin.hint",
        "账号用 venue-edge user|token|device 命令管理;插件用 PUT /api/v1/plugins/{id} 替换",
        "Accounts change with venue-edge user|token|device; a plugin is replaced with PUT /api/v1/plugins/{id}",
    ),
    ("admin.users", "用户", "Users"),
    ("admin.display_name", "姓名", "Name"),
    ("admin.roles", "角色", "Roles"),
    ("admin.state", "状态", "State"),
    ("admin.tokens", "令牌", "Tokens"),
    ("admin.disabled", "已停用", "disabled"),
    ("admin.active", "可登录", "can sign in"),
    ("admin.tokens_only", "仅令牌", "tokens only"),
    ("admin.label", "用途", "Label"),
    ("admin.created", "创建", "Created"),
    ("admin.expires", "到期", "Expires"),
    ("admin.revoked", "吊销", "Revoked"),
    ("admin.login", "MQTT 凭据", "MQTT login"),
    ("admin.login_active", "有效", "active"),
    ("admin.login_revoked", "已吊销", "revoked"),
    ("admin.login_none", "无", "none"),
    ("admin.plugins", "插件", "Plugins"),
    ("admin.world", "接口", "World"),
    ("admin.contract", "契约版本", "Contract"),
    ("admin.loaded", "加载时间", "Loaded"),
    ("admin.calls", "调用", "Calls"),
    ("admin.failures", "失败", "Failures"),
    ("admin.traps", "陷阱", "Traps"),
    ("admin.timeouts", "超时", "Timeouts"),
    ("admin.contracts", "结算合同", "Contracts"),
    ("admin.version", "版本", "Version"),
    ("admin.effective", "生效日", "Effective from"),
    ("admin.kind", "类型", "Kind"),
    ("admin.audit", "审计日志", "Audit log"),
    ("admin.chain_whole", "哈希链完整", "The chain is whole"),
    ("admin.chain_broken", "哈希链已损坏", "The chain is broken"),
    ("admin.actor", "操作人", "Who"),
    ("admin.action", "操作", "Action"),
    ("admin.subject", "对象", "Subject"),
    ("col.key", "项目", "Item"),
    ("col.gross", "收入(元)", "Gross (yuan)"),
    ("col.refunds", "退款(元)", "Refunds (yuan)"),
    ("col.net", "净收入(元)", "Net (yuan)"),
    ("col.count", "笔数", "Count"),
    ("col.total", "合计", "Total"),
    ("col.at", "时间", "Time"),
    ("col.detail", "详情", "Detail"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t.get("...")` in a template names a key of the table, and no key is twice.
    #[test]
    fn every_label_a_template_asks_for_is_in_the_table() {
        for (name, text) in super::super::TEMPLATES {
            let mut rest: &str = text;
            while let Some(i) = rest.find("t.get(\"") {
                rest = &rest[i + 7..];
                let key = &rest[..rest.find('"').expect("a closing quote")];
                assert!(
                    LABELS.iter().any(|(k, _, _)| *k == key),
                    "{name} asks for {key:?}, which the table lacks"
                );
            }
        }
        for (i, (k, _, _)) in LABELS.iter().enumerate() {
            assert!(
                LABELS[i + 1..].iter().all(|(k2, _, _)| k2 != k),
                "{k} twice"
            );
        }
    }

    #[test]
    fn a_label_is_in_the_language_asked_for() {
        assert_eq!(T(Lang::Zh).get("nav.today"), "今日");
        assert_eq!(T(Lang::En).get("nav.today"), "Today");
        assert_eq!(T(Lang::En).get("no.such.key"), "no.such.key");
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }
}
