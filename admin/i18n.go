package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/bouncesink/bouncesink/classify"
)

// Explanation says, for one reason token, the likely cause of a failure
// and what the sender can do about it.
type Explanation struct {
	Cause  string
	Remedy string
}

// lang is one language of the page: its tag, the interface strings and the
// reason texts.
type lang struct {
	Tag     string // "en", "ja": the html lang attribute
	T       map[string]string
	reasons map[classify.Reason]Explanation
}

var (
	english  = lang{Tag: "en", T: uiEN, reasons: reasonsEN}
	japanese = lang{Tag: "ja", T: uiJA, reasons: reasonsJA}
)

// Explain returns the explanation of a reason token, and false for a
// token it does not know (an admin event, a reason from a newer classifier).
func (l lang) Explain(reason string) (Explanation, bool) {
	e, ok := l.reasons[classify.Reason(reason)]
	return e, ok
}

// pickLang follows the browser's Accept-Language (RFC 9110 s12.5.4): the
// first of its ranges, by weight, that is Japanese or English decides;
// anything else, or nothing, is English.
func pickLang(r *http.Request) lang {
	best, bestQ := english, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		var l lang
		switch primary {
		case "ja":
			l = japanese
		case "en":
			l = english
		default:
			continue
		}
		if q > 0 && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// The interface strings. A test keeps both tables on the same keys.
var uiEN = map[string]string{
	"title":               "bouncesink admin",
	"navList":             "Suppressions",
	"navStats":            "Statistics",
	"navReasons":          "Reasons",
	"signedInAs":          "Signed in as",
	"logout":              "Sign out",
	"search":              "Search address",
	"searchButton":        "Search",
	"reason":              "Reason",
	"detail":              "Verdict",
	"domain":              "Domain",
	"any":                 "any",
	"address":             "Address",
	"since":               "Since",
	"clear":               "Clear",
	"results":             "suppressed addresses match",
	"noResults":           "No suppressed address matches.",
	"prev":                "← Previous",
	"next":                "Next →",
	"page":                "Page",
	"of":                  "of",
	"addTitle":            "Suppress an address",
	"note":                "Note",
	"notePlaceholder":     "why (kept in the history)",
	"suppressButton":      "Suppress",
	"bulkLink":            "Lift these suppressions…",
	"bulkTitle":           "Lift suppressions in bulk",
	"bulkHelp":            "Undo an over-suppression (a broken DKIM key, a blocklisted sending IP read as bounces, a bad import): every suppression the filter selects is lifted, each with its own audit entry and webhook. Preview first.",
	"bulkSource":          "Source",
	"bulkDecoder":         "Decoder",
	"bulkRule":            "Rule",
	"bulkSince":           "Suppressed from",
	"bulkUntil":           "Suppressed until",
	"bulkNotePlaceholder": "why (required; kept with each address)",
	"bulkPreview":         "Preview",
	"bulkLiftButton":      "Lift all matching",
	"bulkWouldLift":       "suppressions match and would be lifted.",
	"bulkSampleOnly":      "Only the first ones are shown.",
	"bulkLifted":          "Lifted",
	"bulkBack":            "Back to the list",
	"liftNeedsFilter":     "Set at least one filter: lifting the whole list takes a date range that says so.",
	"liftNeedsNote":       "Say why in the note: it is kept with every address lifted.",
	"liftBadDate":         "A date is not understood; use the date picker (YYYY-MM-DD).",
	"liftButton":          "Lift suppression",
	"liftTitle":           "Lift the suppression",
	"liftHelp":            "Lifting keeps the history and resets the counters: the next hard bounce starts from zero.",
	"recipient":           "Recipient",
	"state":               "State",
	"suppressed":          "Suppressed",
	"notSuppressed":       "Not suppressed",
	"counts":              "Messages by class",
	"firstBounce":         "First message",
	"lastBounce":          "Last message",
	"timeline":            "Timeline",
	"time":                "Time",
	"class":               "Class",
	"status":              "Status",
	"evidence":            "Evidence",
	"diagnostic":          "Diagnostic",
	"message":             "Message",
	"raw":                 "raw",
	"cause":               "Likely cause",
	"remedy":              "What you can do",
	"reasonsHere":         "What these reasons mean",
	"reasonsTitle":        "Reasons",
	"reasonsIntro":        "Every reason bouncesink gives a bounce, with its likely cause and what the sender can do about it. The API carries the token as it is.",
	"token":               "Token",
	"adminAction":         "admin",
	"by":                  "By",
	"statsTitle":          "Statistics",
	"perDay":              "Messages per class per day",
	"days":                "last %d days, UTC",
	"topDomains":          "Top failing domains",
	"topDomainsHelp":      "Recipient domains with the most hard, soft and block verdicts in the period. Many blocks at one domain point to a whole-domain block or outage, not to bad addresses.",
	"failures":            "Failures",
	"blocks":              "Blocks",
	"byReason":            "Verdicts by reason",
	"count":               "Count",
	"totals":              "Store",
	"messages":            "Messages",
	"recipients":          "Recipients",
	"events":              "Events",
	"noData":              "No messages in this period.",
	"rawTitle":            "Raw message",
	"rawPlain":            "Plain text",
	"back":                "Back",
	"notFound":            "Not found",
	"unknownRecipient":    "bouncesink has never seen this address.",
	"forbidden":           "Forbidden",
	"needAdmin":           "Changing suppressions needs the admin role.",
	"badCSRF":             "The form expired or did not come from this page. Go back, reload and try again.",
	"loginTitle":          "Sign in",
	"loginHelp":           "Paste an API token. The server keeps your sign-in for 12 hours; the browser holds only a session cookie that scripts cannot read.",
	"tokenLabel":          "API token",
	"loginButton":         "Sign in",
	"badToken":            "That token is not valid.",
	"done":                "Done.",
	"lifted":              "Suppression lifted.",
	"added":               "Address suppressed.",
	"readOnly":            "Read-only: changing suppressions needs the admin role.",
	"invalidAddress":      "That is not a valid address.",
	"manualReason":        "Reason (token or word)",
	"error":               "Something went wrong; the details are in the server log.",
	"loopbackOpen":        "open on loopback",
	"lastVerdict":         "Last message",
	"verdictReason":       "Reason",
	"auditTitle":          "Audit trail",
	"action":              "Action",
	"before":              "Before",
	"after":               "After",
	"blockDomains":        "Blocks in the last 24 hours",
	"blockDomainsHelp":    "Recipient domains refusing your mail right now. Blocks never suppress an address: fix the cause (IP, authentication, content) instead.",
	"noBlocks":            "No blocks in the last 24 hours.",
	"tooManyAttempts":     "Too many wrong tokens from this address. Wait a minute and try again.",
	"badAddressTitle":     "Invalid address",
	"olderEvents":         "Older events →",
	"newestEvents":        "← Newest events",
	"badRequest":          "Bad request",
	"navWebhooks":         "Webhooks",
	"webhooksTitle":       "Webhooks",
	"webhooksIntro":       "Every change of the suppression list is sent to each endpoint in order. An endpoint that fails is retried and holds up only itself; an entry it refuses for good (a 4xx answer other than 408 and 429) goes on the dead-letter list, and delivery goes on.",
	"noWebhooks":          "No webhook is configured ([[webhooks]] in the configuration file).",
	"endpoint":            "Endpoint",
	"format":              "Format",
	"position":            "Position",
	"lag":                 "Lag",
	"delivered":           "Delivered",
	"failedAttempts":      "Failed attempts",
	"deadLetters":         "Dead letters",
	"lastError":           "Last error",
	"deadLetterTitle":     "Dead letters",
	"deadLetterHelp":      "Entries an endpoint refused for good, newest first, with its answer. The audit trail keeps every entry; send these again by hand once the endpoint is fixed.",
	"entry":               "Entry",
	"event":               "Event",
	"answer":              "Answer",
	"noDeadLetters":       "No dead letters.",
	"deadShown":           "The latest %d of %d.",
}

var uiJA = map[string]string{
	"title":               "bouncesink 管理",
	"navList":             "配信停止リスト",
	"navStats":            "統計",
	"navReasons":          "理由の一覧",
	"signedInAs":          "ログイン中:",
	"logout":              "ログアウト",
	"search":              "アドレスを検索",
	"searchButton":        "検索",
	"reason":              "停止理由",
	"detail":              "判定",
	"domain":              "ドメイン",
	"any":                 "すべて",
	"address":             "アドレス",
	"since":               "停止日時",
	"clear":               "クリア",
	"results":             "件の配信停止アドレスが該当",
	"noResults":           "該当する配信停止アドレスはありません。",
	"prev":                "← 前へ",
	"next":                "次へ →",
	"page":                "ページ",
	"of":                  "/",
	"addTitle":            "アドレスを配信停止にする",
	"note":                "メモ",
	"notePlaceholder":     "理由(履歴に残ります)",
	"suppressButton":      "配信停止にする",
	"bulkLink":            "この条件の配信停止をまとめて解除…",
	"bulkTitle":           "配信停止の一括解除",
	"bulkHelp":            "送信側の問題(DKIM鍵の不備、ブロックリスト入りした送信IPをバウンスと読んだもの、誤ったインポート)による過剰な配信停止を元に戻します。条件に合う配信停止をすべて解除し、アドレスごとに監査記録とWebhookを残します。まずプレビューしてください。",
	"bulkSource":          "出所",
	"bulkDecoder":         "デコーダ",
	"bulkRule":            "ルール",
	"bulkSince":           "停止日(から)",
	"bulkUntil":           "停止日(まで)",
	"bulkNotePlaceholder": "理由(必須。各アドレスに記録されます)",
	"bulkPreview":         "プレビュー",
	"bulkLiftButton":      "条件に合うものをすべて解除",
	"bulkWouldLift":       "件の配信停止が条件に合い、解除されます。",
	"bulkSampleOnly":      "最初の数件のみ表示しています。",
	"bulkLifted":          "解除しました:",
	"bulkBack":            "一覧に戻る",
	"liftNeedsFilter":     "条件を少なくとも一つ指定してください。全件を解除するには日付の範囲で明示してください。",
	"liftNeedsNote":       "メモに理由を書いてください。解除した各アドレスに記録されます。",
	"liftBadDate":         "日付を読み取れません。日付選択(YYYY-MM-DD)を使ってください。",
	"liftButton":          "配信停止を解除",
	"liftTitle":           "配信停止の解除",
	"liftHelp":            "解除しても履歴は残り、カウンターはリセットされます。次のハードバウンスはゼロから数えます。",
	"recipient":           "宛先",
	"state":               "状態",
	"suppressed":          "配信停止中",
	"notSuppressed":       "配信停止されていません",
	"counts":              "分類別のメール数",
	"firstBounce":         "最初のメール",
	"lastBounce":          "最後のメール",
	"timeline":            "履歴",
	"time":                "日時",
	"class":               "分類",
	"status":              "ステータス",
	"evidence":            "根拠",
	"diagnostic":          "診断メッセージ",
	"message":             "メール",
	"raw":                 "原文",
	"cause":               "考えられる原因",
	"remedy":              "送信者ができること",
	"reasonsHere":         "これらの理由の意味",
	"reasonsTitle":        "理由の一覧",
	"reasonsIntro":        "bouncesinkがバウンスに付ける理由と、その考えられる原因、送信者ができることの一覧です。APIでは言語に依存しないトークンのまま返します。",
	"token":               "トークン",
	"adminAction":         "管理操作",
	"by":                  "実行者",
	"statsTitle":          "統計",
	"perDay":              "分類別・日別のメール数",
	"days":                "過去%d日間(UTC)",
	"topDomains":          "失敗の多いドメイン",
	"topDomainsHelp":      "期間中にハード・ソフト・ブロックの判定が多かった宛先ドメインです。1つのドメインでブロックが多い場合は、アドレスの問題ではなくドメイン全体のブロックや障害が考えられます。",
	"failures":            "失敗",
	"blocks":              "ブロック",
	"byReason":            "理由別の判定数",
	"count":               "件数",
	"totals":              "データベース",
	"messages":            "メール",
	"recipients":          "宛先",
	"events":              "イベント",
	"noData":              "この期間のメールはありません。",
	"rawTitle":            "メールの原文",
	"rawPlain":            "プレーンテキスト",
	"back":                "戻る",
	"notFound":            "見つかりません",
	"unknownRecipient":    "このアドレスの記録はありません。",
	"forbidden":           "権限がありません",
	"needAdmin":           "配信停止の変更には管理者(admin)権限が必要です。",
	"badCSRF":             "フォームの有効期限が切れたか、このページから送信されていません。戻って再読み込みし、もう一度お試しください。",
	"loginTitle":          "ログイン",
	"loginHelp":           "APIトークンを貼り付けてください。ログインはサーバーが12時間保持し、ブラウザにはスクリプトから読めないセッションCookieだけが残ります。",
	"tokenLabel":          "APIトークン",
	"loginButton":         "ログイン",
	"badToken":            "このトークンは無効です。",
	"done":                "完了しました。",
	"lifted":              "配信停止を解除しました。",
	"added":               "配信停止にしました。",
	"readOnly":            "閲覧専用です。配信停止の変更には管理者権限が必要です。",
	"invalidAddress":      "有効なアドレスではありません。",
	"manualReason":        "理由(トークンまたは語)",
	"error":               "エラーが発生しました。詳細はサーバーのログにあります。",
	"loopbackOpen":        "ループバックで公開中",
	"lastVerdict":         "最後のメール",
	"verdictReason":       "理由",
	"auditTitle":          "変更履歴(監査ログ)",
	"action":              "操作",
	"before":              "変更前",
	"after":               "変更後",
	"blockDomains":        "過去24時間のブロック",
	"blockDomainsHelp":    "現在あなたのメールを拒否している宛先ドメインです。ブロックではアドレスは配信停止になりません。原因(IP、認証、内容)を解消してください。",
	"noBlocks":            "過去24時間のブロックはありません。",
	"tooManyAttempts":     "このアドレスから誤ったトークンが多すぎます。1分ほど待ってからもう一度お試しください。",
	"badAddressTitle":     "無効なアドレス",
	"olderEvents":         "さらに古い記録 →",
	"newestEvents":        "← 最新の記録",
	"badRequest":          "不正なリクエスト",
	"navWebhooks":         "Webhook",
	"webhooksTitle":       "Webhook",
	"webhooksIntro":       "配信停止リストの変更は、各エンドポイントへ順番に送られます。失敗したエンドポイントは再試行され、止まるのはそのエンドポイントだけです。恒久的に拒否された項目(408と429以外の4xx応答)はデッドレターに移り、配信は続きます。",
	"noWebhooks":          "Webhookは設定されていません(設定ファイルの[[webhooks]])。",
	"endpoint":            "エンドポイント",
	"format":              "形式",
	"position":            "位置",
	"lag":                 "遅れ",
	"delivered":           "送信済み",
	"failedAttempts":      "失敗した試行",
	"deadLetters":         "デッドレター",
	"lastError":           "最後のエラー",
	"deadLetterTitle":     "デッドレター",
	"deadLetterHelp":      "エンドポイントが恒久的に拒否した項目です(新しい順、応答付き)。監査ログにはすべての項目が残ります。エンドポイントを直したら手動で再送してください。",
	"entry":               "項目",
	"event":               "イベント",
	"answer":              "応答",
	"noDeadLetters":       "デッドレターはありません。",
	"deadShown":           "全%[2]d件のうち最新の%[1]d件。",
}
