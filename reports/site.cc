#include "site.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <sqlite3.h>

#include "html.h"
#include "keval_version.h"
#include "metrics.h"
#include "util/error.h"
#include "util/text.h"

namespace keval {
namespace {

namespace fs = std::filesystem;
using html::escape;

// ---- reading: bulk queries on a read-only connection of our own ----

// The store's API parses every record; the site passes most of them through as text, and reads
// tens of thousands of rows per run, so it reads the rows itself (the schema is the store's).
// One Reader per thread (NOMUTEX: a connection is never shared).
class Reader {
public:
  explicit Reader(const std::string& path) : m_path(path) {
    m_db = open_read_only_connection(path);  // as the store reads: works on read-only media
    m_scores = prepare("SELECT sample_id, status, extracted, score_json FROM scores WHERE run_id = ?1 AND task = ?2 "
                       "ORDER BY rowid");
    m_responses = prepare("SELECT sample_id, turn, status, text, logprobs_json, failure_kind, failure_message "
                          "FROM responses WHERE run_id = ?1 AND task = ?2");
    m_requests = prepare("SELECT sample_id, turn, request_json FROM responses WHERE run_id = ?1 AND task = ?2");
  }
  ~Reader() {
    for (auto* s : {m_scores, m_responses, m_requests}) sqlite3_finalize(s);
    sqlite3_close(m_db);
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Calls `row(statement)` for each row of `statement` bound to (run, task).
  template <typename F>
  void each(sqlite3_stmt* statement, const std::string& run, const std::string& task, F&& row) {
    sqlite3_reset(statement);
    sqlite3_bind_text(statement, 1, run.c_str(), static_cast<int>(run.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(statement, 2, task.c_str(), static_cast<int>(task.size()), SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) row(statement);
    if (rc != SQLITE_DONE) throw_sqlite_error(m_db, m_path, sqlite3_sql(statement));  // damaged: exit 2
  }

  sqlite3_stmt* scores() { return m_scores; }
  sqlite3_stmt* responses() { return m_responses; }
  sqlite3_stmt* requests() { return m_requests; }

private:
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(m_db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw InputError(fmt::format("{}: not a keval database this version can read ({})", m_path, sqlite3_errmsg(m_db)));
    return s;
  }

  std::string m_path;
  sqlite3* m_db = nullptr;
  sqlite3_stmt* m_scores = nullptr;
  sqlite3_stmt* m_responses = nullptr;
  sqlite3_stmt* m_requests = nullptr;
};

std::string_view column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s, i))) : std::string_view();
}

bool column_null(sqlite3_stmt* s, int i) { return sqlite3_column_type(s, i) == SQLITE_NULL; }

// The raw text of a top-level member of a JSON object, without parsing the rest (stored score
// records are passed through, not interpreted). Empty when absent.
std::string_view member_text(std::string_view json, std::string_view key) {
  int depth = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < json.size() && json[j] != '"') j += json[j] == '\\' ? 2 : 1;
      if (j >= json.size()) return {};
      const std::string_view str = json.substr(i + 1, j - i - 1);
      size_t k = j + 1;
      while (k < json.size() && (json[k] == ' ' || json[k] == '\n' || json[k] == '\t' || json[k] == '\r')) ++k;
      if (depth == 1 && k < json.size() && json[k] == ':' && str == key) {
        size_t start = k + 1;
        while (start < json.size() && json[start] == ' ') ++start;
        int d = 0;
        size_t e = start;
        for (; e < json.size(); ++e) {
          const char x = json[e];
          if (x == '"') {
            ++e;
            while (e < json.size() && json[e] != '"') e += json[e] == '\\' ? 2 : 1;
          } else if (x == '{' || x == '[') {
            ++d;
          } else if (x == '}' || x == ']') {
            if (d == 0) break;
            --d;
          } else if (x == ',' && d == 0) {
            break;
          }
        }
        return json.substr(start, std::min(e, json.size()) - start);
      }
      i = j;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return {};
}

// Log-probabilities cut to 3 decimals, textually (no parse: there are millions of them, and the
// page only shows them). Exponents are kept, so every number stays valid JSON.
std::string compact_numbers(std::string_view array_text) {
  std::string out;
  out.reserve(array_text.size());
  int decimals = -1;  // -1: not after a decimal point
  for (char c : array_text) {
    if (c == '.') {
      decimals = 0;
    } else if (c >= '0' && c <= '9') {
      if (decimals >= 0 && ++decimals > 3) continue;
    } else {
      decimals = -1;
    }
    out += c;
  }
  return out;
}

// ---- what the pages show ----

struct RunView {
  RunRecord run;
  std::map<std::string, std::map<std::string, TaskResult>> results;  // entry -> metric -> result
  std::set<std::string> tasks;                                         // tasks it ran
};

struct Entry {
  std::string name;
  bool is_group = false;
  std::string aggregation;
  std::vector<std::string> metrics;   // first appearance order
  std::vector<std::string> members;   // groups
};

struct Column {
  const Entry* entry;
  std::string metric;
};

bool higher_is_better(const std::string& metric) {
  const MetricInfo* info = find_metric(metric);
  return !info || info->higher_is_better;
}

bool is_proportion_like(const std::string& metric) {
  const MetricInfo* info = find_metric(metric);
  return info && info->higher_is_better && metric.find("diff") == std::string::npos && metric != "pearson" &&
         metric != "spearman" && metric.rfind("judge_", 0) != 0;
}

const TaskResult* result_of(const RunView& r, const std::string& entry, const std::string& metric) {
  auto e = r.results.find(entry);
  if (e == r.results.end()) return nullptr;
  auto m = e->second.find(metric);
  return m == e->second.end() || !m->second.value ? nullptr : &m->second;
}

std::string fixed(double v, int digits = 3) { return fmt::format("{:.{}f}", v, digits); }

// Competition ranks with statistical ties: 1 + the runs whose interval lies entirely better.
std::vector<int> significance_ranks(const std::vector<const TaskResult*>& cells, bool higher) {
  std::vector<int> ranks(cells.size(), 0);
  for (size_t i = 0; i < cells.size(); ++i) {
    if (!cells[i]) continue;
    const double lo = cells[i]->ci_low.value_or(*cells[i]->value), hi = cells[i]->ci_high.value_or(*cells[i]->value);
    int rank = 1;
    for (size_t j = 0; j < cells.size(); ++j) {
      if (j == i || !cells[j]) continue;
      const double olo = cells[j]->ci_low.value_or(*cells[j]->value), ohi = cells[j]->ci_high.value_or(*cells[j]->value);
      if (higher ? olo > hi : ohi < lo) ++rank;
    }
    ranks[i] = rank;
  }
  return ranks;
}

// A value with its 95% interval; `compact` shows the interval as ± half its width (the exact
// bounds stay in the title and in data-lo / data-hi, which the ranks use).
std::string score_cell(const TaskResult* r, bool compact = false) {
  if (!r) return "<td class=\"na\">–</td>";
  std::string ci, attrs = fmt::format(" data-v=\"{:.6g}\"", *r->value);
  if (r->ci_low && r->ci_high) {
    attrs += fmt::format(" data-lo=\"{:.6g}\" data-hi=\"{:.6g}\"", *r->ci_low, *r->ci_high);
    ci = compact ? fmt::format("<small>±{}</small>", fixed((*r->ci_high - *r->ci_low) / 2))
                 : fmt::format("<small>[{}, {}]</small>", fixed(*r->ci_low), fixed(*r->ci_high));
  }
  const std::string title = fmt::format("{}n = {}{}{}{}{}",
                                        r->ci_low && r->ci_high ? fmt::format("95% CI [{}, {}], ", fixed(*r->ci_low, 4), fixed(*r->ci_high, 4)) : "",
                                        r->n, r->n_failed ? fmt::format(", {} failed", r->n_failed) : "",
                                        r->n_unparsed ? fmt::format(", {} unparsed", r->n_unparsed) : "",
                                        r->n_judge_failed ? fmt::format(", {} without a judge verdict", r->n_judge_failed) : "",
                                        r->stderr_value ? fmt::format(", stderr {:.4f}", *r->stderr_value) : "");
  return fmt::format("<td{} title=\"{}\">{}{}</td>", attrs, escape(title), fixed(*r->value), ci);
}

std::string metric_label(const Entry& e, const std::string& metric) {
  return e.is_group ? fmt::format("{} ({})", metric, e.aggregation) : metric;
}

std::string task_href(const std::string& task, const std::string& prefix) {
  return prefix + "tasks/" + html::file_name(task) + ".html";
}

std::string run_href(const RunRecord& r, const std::string& prefix) { return prefix + "runs/" + html::file_name(r.id) + ".html"; }

constexpr const char* k_css = R"css(
:root{--fg:#1d232a;--muted:#5b6570;--line:#d9dee3;--head:#f3f5f7;--accent:#2f6fb0;--bar:#7fa9d6;--good:#17702a;--bad:#a3261b}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans KR","Apple SD Gothic Neo","Malgun Gothic",sans-serif;color:var(--fg);margin:0;padding:0 24px 48px;background:#fff}
header{border-bottom:1px solid var(--line);padding:12px 0 8px;margin-bottom:8px}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 6px}h3{font-size:15px;margin:4px 0}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.note,.muted{color:var(--muted);font-size:12px;max-width:70em}
.scroll{overflow:auto;max-width:100%;max-height:80vh;border:1px solid var(--line)}
table{border-collapse:separate;border-spacing:0;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:right;white-space:nowrap;vertical-align:top}
thead th{background:var(--head);position:sticky;top:0;z-index:1}
table.sortable thead th{cursor:pointer;user-select:none}
th.text,td.text{text-align:left}
th small,td small{display:block;color:var(--muted);font-size:11px;font-weight:normal}
th[aria-sort=descending]::after{content:" \25BC";font-size:10px}th[aria-sort=ascending]::after{content:" \25B2";font-size:10px}
td.rank{font-weight:600;text-align:center}td.na{color:var(--muted);text-align:center}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;border:1px solid var(--line);padding:8px 8px 4px}figcaption{font-weight:600;margin-bottom:4px}
code,pre{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f8fa;padding:6px 8px;margin:4px 0;max-height:24em;overflow:auto}
.controls{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:8px 0;position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid var(--line);z-index:2}
.sample{border:1px solid var(--line);margin:12px 0;padding:8px 10px}
.sample table{width:100%}.sample td{white-space:normal;text-align:left}
.sample td.answer{max-width:48em}
.right{color:var(--good)}.wrong{color:var(--bad)}.failed{color:var(--muted);font-style:italic}
tr.pick td{background:#fffbe6}
)css";

// Sorting (click a header) and ranks; shared by every page. Data enter the page as text only.
constexpr const char* k_table_js = R"js(
(function(){
'use strict';
function num(cell){if(!cell)return null;var v=cell.getAttribute('data-v');if(v===null||v==='')return null;var x=parseFloat(v);return isNaN(x)?null:x;}
function bound(cell,name,v){var b=parseFloat(cell.getAttribute(name));return isNaN(b)?v:b;}
function rank(table,col){
  var th=table.tHead.rows[0].cells[col],better=th.getAttribute('data-better');
  var rc=table.querySelector('thead th[data-key="rank"]');
  if(!better||!rc)return;
  var ri=rc.cellIndex,rows=Array.prototype.slice.call(table.tBodies[0].rows);
  rows.forEach(function(r){
    var c=r.cells[col],v=num(c),k=1;
    if(v===null){r.cells[ri].textContent='\u2013';return;}
    var lo=bound(c,'data-lo',v),hi=bound(c,'data-hi',v);
    rows.forEach(function(o){
      if(o===r)return;var oc=o.cells[col],ov=num(oc);if(ov===null)return;
      if(better==='high'?bound(oc,'data-lo',ov)>hi:bound(oc,'data-hi',ov)<lo)k++;
    });
    r.cells[ri].textContent=String(k);
  });
  table.setAttribute('data-rank-col',String(col));
  var label=document.getElementById(table.id+'-rank-by');
  if(label)label.textContent=th.getAttribute('data-label')||th.textContent;
}
function sort(table,col,dir){
  var th=table.tHead.rows[0].cells[col],type=th.getAttribute('data-type')||'num';
  var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
  var keyed=rows.map(function(r,i){var c=r.cells[col];return {r:r,i:i,n:type==='num'?num(c):null,t:c?(c.getAttribute('data-sort')||c.textContent):''};});
  keyed.sort(function(a,b){
    if(type==='num'){
      if(a.n===null&&b.n===null)return a.i-b.i;if(a.n===null)return 1;if(b.n===null)return -1;
      if(a.n!==b.n)return dir==='asc'?a.n-b.n:b.n-a.n;return a.i-b.i;
    }
    var c=a.t.localeCompare(b.t);return (dir==='asc'?c:-c)||a.i-b.i;
  });
  keyed.forEach(function(k){body.appendChild(k.r);});
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',dir==='asc'?'ascending':'descending');
  rank(table,col);
}
function init(table){
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,col){
    th.addEventListener('click',function(){
      var cur=th.getAttribute('aria-sort'),type=th.getAttribute('data-type')||'num';
      var first=type==='num'&&th.getAttribute('data-key')!=='rank'&&th.getAttribute('data-better')!=='low'?'desc':'asc';
      var dir=cur?(cur==='ascending'?'desc':'asc'):first;
      sort(table,col,dir);
    });
  });
  var rc=table.getAttribute('data-rank-col');
  if(rc!==null)rank(table,parseInt(rc,10));
}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),init);
window.kevalSort=sort;
})();
)js";

// Loaded with #selftest, the index clicks the header of the first score column it is not sorted
// by (or the one named by #selftest=KEY) and writes what the table holds into <pre id="selftest-result">, so a
// headless browser's --dump-dom shows the page really sorts.
constexpr const char* k_selftest_js = R"js(
(function(){
'use strict';
var h=location.hash;if(h.indexOf('#selftest')!==0)return;
var table=document.getElementById('board');if(!table)return;
var want=h.indexOf('=')>0?decodeURIComponent(h.slice(h.indexOf('=')+1)):null,target=null,seen=0;
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){
  if(!th.getAttribute('data-better'))return;seen++;
  if(want?th.getAttribute('data-key')===want:(!target&&!th.getAttribute('aria-sort')))target=th;
});
var result={rows:table.tBodies[0].rows.length,column:null,order:[],values:[],ranks:[]};
if(target){
  target.click();
  var col=target.cellIndex,rc=table.querySelector('thead th[data-key="rank"]');
  result.column=target.getAttribute('data-key');result.direction=target.getAttribute('aria-sort');
  Array.prototype.forEach.call(table.tBodies[0].rows,function(r){
    result.order.push(r.getAttribute('data-run'));
    var v=r.cells[col].getAttribute('data-v');result.values.push(v===null?null:parseFloat(v));
    result.ranks.push(rc?r.cells[rc.cellIndex].textContent:null);
  });
}
var pre=document.createElement('pre');pre.id='selftest-result';pre.textContent=JSON.stringify(result);
document.body.appendChild(pre);
})();
)js";

// The sample browser of a task page: renders from the JSON block, 25 samples a page.
constexpr const char* k_browser_js = R"js(
(function(){
'use strict';
var D=JSON.parse(document.getElementById('keval-data').textContent);
var el=function(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined&&text!==null)e.textContent=String(text);return e;};
var ra=document.getElementById('run-a'),rb=document.getElementById('run-b'),only=document.getElementById('only-differ');
var q=document.getElementById('search'),list=document.getElementById('samples'),info=document.getElementById('page-info');
var page=0,per=25,shown=[];
D.runs.forEach(function(r,i){[ra,rb].forEach(function(s){var o=el('option',null,r.name);o.value=String(i);s.appendChild(o);});});
if(D.runs.length>1)rb.value='1';
function value(a){if(!a||!a[3])return null;var v=a[3][D.metric];return v===undefined?null:v;}
function differ(i){
  var A=D.answers[+ra.value][i],B=D.answers[+rb.value][i];
  if(!A||!B)return false;if(A[0]==='failed'||B[0]==='failed')return false;
  var a=value(A),b=value(B);return a!==b;
}
function text(i){
  var s=D.samples[i],parts=[s.id];
  (s.requests||[]).forEach(function(r){if(r){if(r.context)parts.push(r.context);(r.messages||[]).forEach(function(m){parts.push(m.content);});}});
  D.answers.forEach(function(run){var a=run[i];if(a){parts.push(a[1]);parts.push(typeof a[2]==='string'?a[2]:JSON.stringify(a[2]));}});
  return parts.join('\n').toLowerCase();
}
function filter(){
  var needle=q.value.trim().toLowerCase();shown=[];
  for(var i=0;i<D.samples.length;i++){
    if(only.checked&&!differ(i))continue;
    if(needle&&text(i).indexOf(needle)<0)continue;
    shown.push(i);
  }
  page=0;render();
}
function prompt(s,box){
  var reqs=s.requests||[];
  if(!reqs.length||!reqs[0]){box.appendChild(el('p','muted','(no stored request)'));return;}
  var r=reqs[0];
  if(r.type==='loglikelihood'){
    box.appendChild(el('pre',null,r.context));
    var ol=el('ol');ol.start=0;
    (r.continuations||[]).forEach(function(c,k){var li=el('li',k===s.gold?'right':null,JSON.stringify(c)+(k===s.gold?'  (gold)':''));ol.appendChild(li);});
    box.appendChild(ol);return;
  }
  if(reqs.length>1){
    reqs.forEach(function(t,k){if(!t)return;var users=(t.messages||[]).filter(function(m){return m.role==='user';});
      var last=users.length?users[users.length-1].content:'';box.appendChild(el('h4',null,'turn '+(k+1)));box.appendChild(el('pre',null,last));});
  }else{
    (r.messages||[]).forEach(function(m){box.appendChild(el('div','muted',m.role));box.appendChild(el('pre',null,m.content));});
  }
  if(s.gold!==null&&s.gold!==undefined&&typeof s.gold==='number'&&s.gold>=0&&s.choices)box.appendChild(el('p',null,'gold: '+s.gold));
}
function answerText(a){
  if(!a)return '';var x=a[2];
  if(x===null||x===undefined)return '';
  if(typeof x==='string')return x;
  if(Array.isArray(x)&&x.length&&typeof x[0]==='number')return 'log-probabilities: '+x.join('  ');
  if(Array.isArray(x))return x.map(function(t,k){return '[turn '+(k+1)+'] '+t;}).join('\n\n');
  return JSON.stringify(x);
}
function scoreText(a){
  if(!a)return '';if(a[0]==='failed')return 'failed';
  var v=a[3]||{},keys=Object.keys(v);
  return keys.map(function(k){var x=v[k];return k+' '+(typeof x==='number'?(Math.round(x*1000)/1000):x);}).join(', ')+(a[0]==='unparsed'?' (unparsed)':'');
}
function render(){
  while(list.firstChild)list.removeChild(list.firstChild);
  var pages=Math.max(1,Math.ceil(shown.length/per));if(page>=pages)page=pages-1;
  info.textContent=shown.length+' of '+D.samples.length+' samples \u00b7 page '+(page+1)+' of '+pages;
  shown.slice(page*per,page*per+per).forEach(function(i){
    var s=D.samples[i],art=el('article','sample');art.setAttribute('data-sample',s.id);
    art.appendChild(el('h3',null,D.task+' / '+s.id));
    var box=el('div','prompt');prompt(s,box);art.appendChild(box);
    var t=el('table'),head=el('tr');['run','answer','extracted','score'].forEach(function(h){head.appendChild(el('th','text',h));});t.appendChild(head);
    D.runs.forEach(function(r,k){
      var a=D.answers[k][i];if(!a)return;
      var tr=el('tr',(k===+ra.value||k===+rb.value)?'pick':null),v=value(a);
      tr.appendChild(el('td',null,r.name));
      var ans=el('td','answer');ans.appendChild(el('pre',null,answerText(a)));tr.appendChild(ans);
      tr.appendChild(el('td',null,a[1]));
      tr.appendChild(el('td',a[0]==='failed'?'failed':(v===1?'right':(v===0?'wrong':null)),scoreText(a)));
      t.appendChild(tr);
    });
    art.appendChild(t);list.appendChild(art);
  });
}
document.getElementById('prev').addEventListener('click',function(){if(page>0){page--;render();}});
document.getElementById('next').addEventListener('click',function(){page++;render();});
[ra,rb,only].forEach(function(x){x.addEventListener('change',filter);});
q.addEventListener('input',filter);
if(location.hash==='#differ'){only.checked=true;}
filter();
})();
)js";

std::string page_head(const std::string& title, const std::string& description) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"ko\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"keval {}\">\n<meta name=\"description\" content=\"{}\">\n"
      "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
      escape(k_version), escape(description), escape(title), k_css);
}

std::string page_tail(const std::vector<const char*>& scripts) {
  std::string out;
  for (const char* s : scripts) out += fmt::format("<script>{}</script>\n", s);
  return out + "</body>\n</html>\n";
}

std::string short_hash(const std::string& h) { return h.substr(0, 12); }

std::string config_value(const nlohmann::json& config, const char* key) {
  if (!config.contains(key) || config.at(key).is_null()) return "default";
  const auto& v = config.at(key);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string seed_of(const RunRecord& r) {
  const auto b = r.config.value("backend", nlohmann::json::object());
  return b.contains("seed") ? b.at("seed").dump() : "–";
}

// ---- the leaderboard table ----

std::string board_table(const std::string& id, const std::vector<const RunView*>& runs, const std::vector<Column>& columns,
                        size_t rank_column, const std::string& prefix, bool compact = false) {
  // Rows start sorted by the ranking column, best first; runs without a value go last.
  std::vector<const TaskResult*> rank_cells;
  for (const RunView* r : runs)
    rank_cells.push_back(columns.empty() ? nullptr : result_of(*r, columns[rank_column].entry->name, columns[rank_column].metric));
  const bool higher = columns.empty() || higher_is_better(columns[rank_column].metric);
  const std::vector<int> ranks = significance_ranks(rank_cells, higher);
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (!rank_cells[a] || !rank_cells[b]) return rank_cells[a] && !rank_cells[b];
    return higher ? *rank_cells[a]->value > *rank_cells[b]->value : *rank_cells[a]->value < *rank_cells[b]->value;
  });

  const size_t first_score = 3;  // rank, run, model
  std::string out = fmt::format("<div class=\"scroll\"><table id=\"{}\" class=\"sortable board\" data-rank-col=\"{}\">\n<thead><tr>"
                                "<th data-key=\"rank\" data-type=\"num\" title=\"Rank in the sorted score column: 1 + runs "
                                "whose 95% interval lies entirely above\">Rank</th>"
                                "<th class=\"text\" data-key=\"run\" data-type=\"text\">Run</th>"
                                "<th class=\"text\" data-key=\"model\" data-type=\"text\">Model</th>",
                                id, first_score + rank_column);
  for (size_t c = 0; c < columns.size(); ++c) {
    const Entry& e = *columns[c].entry;
    const std::string label = e.is_group ? e.name : fmt::format("<a href=\"{}\">{}</a>", escape(task_href(e.name, prefix)), escape(e.name));
    const std::string title = e.is_group ? fmt::format("group of {}", text::join(e.members, ", ")) : "task: open its sample browser";
    out += fmt::format("<th data-key=\"{}\" data-type=\"num\" data-better=\"{}\" data-label=\"{}\" title=\"{}\"{}>{}<small>{}</small></th>",
                       escape(e.name + ":" + columns[c].metric), higher_is_better(columns[c].metric) ? "high" : "low",
                       escape(e.name + " (" + columns[c].metric + ")"), escape(title),
                       c == rank_column ? fmt::format(" aria-sort=\"{}\"", higher ? "descending" : "ascending") : "", label,
                       escape(metric_label(e, columns[c].metric)));
  }
  out += "</tr></thead>\n<tbody>\n";
  for (size_t i : order) {
    const RunView& r = *runs[i];
    out += fmt::format("<tr data-run=\"{}\"><td class=\"rank\" data-v=\"{}\">{}</td><td class=\"text\"><a href=\"{}\">{}</a>"
                       "<small>{}</small></td><td class=\"text\">{}</td>",
                       escape(r.run.id), ranks[i] ? std::to_string(ranks[i]) : "", ranks[i] ? std::to_string(ranks[i]) : "–",
                       escape(run_href(r.run, prefix)), escape(r.run.name), escape(r.run.id),
                       escape(r.run.model.empty() ? r.run.backend : r.run.model));
    for (const auto& col : columns) out += score_cell(result_of(r, col.entry->name, col.metric), compact);
    out += "</tr>\n";
  }
  out += "</tbody></table></div>\n";
  return out;
}

// A horizontal bar per run with its 95% interval as a whisker.
std::string bar_chart(const Entry& e, const std::string& metric, const std::vector<const RunView*>& runs) {
  struct Bar {
    std::string name;
    double v, lo, hi;
  };
  std::vector<Bar> bars;
  for (const RunView* r : runs)
    if (const TaskResult* t = result_of(*r, e.name, metric))
      bars.push_back({r->run.name, *t->value, t->ci_low.value_or(*t->value), t->ci_high.value_or(*t->value)});
  if (bars.empty()) return "";
  const bool higher = higher_is_better(metric);
  std::stable_sort(bars.begin(), bars.end(), [&](const Bar& a, const Bar& b) { return higher ? a.v > b.v : a.v < b.v; });
  // Judge ratings are on 0..10.
  double lo = 0, hi = is_proportion_like(metric) ? 1.0 : metric.rfind("judge_", 0) == 0 ? 10.0 : 0.0;
  for (const auto& b : bars) {
    lo = std::min(lo, b.lo);
    hi = std::max(hi, b.hi);
  }
  if (hi - lo < 1e-9) hi = lo + 1;
  const int label_w = 190, plot_w = 300, value_w = 60, row_h = 18, top = 6;
  const int width = label_w + plot_w + value_w, height = top + row_h * static_cast<int>(bars.size()) + 22;
  auto x = [&](double v) { return label_w + (v - lo) / (hi - lo) * plot_w; };
  std::string svg = fmt::format("<figure><figcaption>{} <small class=\"muted\">{}</small></figcaption>\n"
                                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" "
                                "aria-label=\"{}\" font-size=\"11\" font-family=\"system-ui,sans-serif\">\n",
                                escape(e.name), escape(metric_label(e, metric)), width, height, width, height,
                                escape(e.name + " " + metric));
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double y = top + row_h * static_cast<double>(i);
    std::string name = b.name;
    if (text::char_count(name) > 28) {
      std::vector<char32_t> cps = text::decode(name);
      cps.resize(27);
      name = text::encode(cps) + "…";
    }
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#1d232a\">{}<title>{}</title></text>", label_w - 6,
                       y + 12, escape(name), escape(b.name));
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" fill=\"#7fa9d6\"/>", std::min(x(0), x(b.v)),
                       y + 3, std::abs(x(b.v) - x(0)), row_h - 6);
    svg += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#1d232a\" stroke-width=\"1.2\"/>", x(b.lo),
                       x(b.hi), y + row_h / 2.0, y + row_h / 2.0);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" fill=\"#1d232a\">{}</text>\n", label_w + plot_w + 6, y + 12, fixed(b.v));
  }
  const double axis_y = top + row_h * static_cast<double>(bars.size()) + 4;
  svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#9aa4ae\"/>", label_w, label_w + plot_w, axis_y, axis_y);
  for (int k = 0; k <= 4; ++k) {
    const double v = lo + (hi - lo) * k / 4.0;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#5b6570\">{}</text>", x(v), axis_y + 14,
                       fixed(v, 2));
  }
  return svg + "</svg></figure>\n";
}

// ---- pages ----

struct Model {
  std::vector<RunView> runs;
  std::vector<Entry> entries;              // groups first, then tasks
  std::map<std::string, size_t> entry_at;  // name -> index in entries
  std::set<std::string> grouped;           // names that are some group's member
};

Model build_model(Store& store) {
  Model m;
  for (auto& run : store.list_runs()) {
    RunView v;
    v.run = std::move(run);
    for (auto& r : store.load_task_results(v.run.id)) v.results[r.task][r.metric] = r;
    for (const auto& t : v.run.config.value("tasks", nlohmann::json::array())) v.tasks.insert(t.value("name", ""));
    m.runs.push_back(std::move(v));
  }
  std::vector<Entry> groups, tasks;
  std::map<std::string, size_t> group_at, task_at;
  for (const auto& v : m.runs) {
    for (const auto& g : v.run.config.value("groups", nlohmann::json::array()))
      for (const auto& member : g.value("members", std::vector<std::string>{})) m.grouped.insert(member);
    for (const auto& r : v.run.config.value("tasks", nlohmann::json::array())) {
      const std::string name = r.value("name", "");
      if (!task_at.count(name)) {
        task_at[name] = tasks.size();
        tasks.push_back(Entry{name, false, "", {}, {}});
      }
      for (const auto& metric : r.value("metrics", std::vector<std::string>{})) {
        auto& ms = tasks[task_at[name]].metrics;
        if (std::find(ms.begin(), ms.end(), metric) == ms.end()) ms.push_back(metric);
      }
    }
    for (const auto& g : v.run.config.value("groups", nlohmann::json::array())) {
      const std::string name = g.value("name", "");
      if (!group_at.count(name)) {
        group_at[name] = groups.size();
        groups.push_back(Entry{name, true, g.value("aggregate", "macro"), {}, g.value("members", std::vector<std::string>{})});
      }
    }
    for (const auto& [entry, metrics] : v.results) {
      auto it = group_at.find(entry);
      if (it == group_at.end()) continue;
      for (const auto& [metric, r] : metrics) {
        auto& ms = groups[it->second].metrics;
        if (std::find(ms.begin(), ms.end(), metric) == ms.end()) ms.push_back(metric);
      }
    }
  }
  // A group's headline metric is its members' first metric when they share it.
  for (auto& g : groups) {
    if (g.members.empty()) continue;
    const std::string& first = g.members.front();
    std::string head;
    if (task_at.count(first) && !tasks[task_at[first]].metrics.empty()) head = tasks[task_at[first]].metrics.front();
    else if (group_at.count(first) && !groups[group_at[first]].metrics.empty()) head = groups[group_at[first]].metrics.front();
    auto it = std::find(g.metrics.begin(), g.metrics.end(), head);
    if (it != g.metrics.end()) std::rotate(g.metrics.begin(), it, it + 1);
  }
  for (auto& g : groups) m.entries.push_back(std::move(g));
  for (auto& t : tasks) m.entries.push_back(std::move(t));
  for (size_t i = 0; i < m.entries.size(); ++i) m.entry_at[m.entries[i].name] = i;
  return m;
}

std::string runs_section(const Model& m, const std::string& prefix) {
  std::string out = "<h2 id=\"runs\">Runs and their configuration</h2>\n"
                    "<p class=\"note\">The fingerprint is the run's <code>config_hash</code>: SHA-256 of everything that decides "
                    "its results (tasks with versions and content hashes, backend, model, few-shot, limits, MC mode, keval "
                    "and extractor versions). Equal fingerprints mean the same evaluation.</p>\n"
                    "<div class=\"scroll\"><table id=\"runs-table\" class=\"sortable\"><thead><tr>"
                    "<th class=\"text\" data-type=\"text\">Run</th><th class=\"text\" data-type=\"text\">Id</th>"
                    "<th class=\"text\" data-type=\"text\">Model</th><th class=\"text\" data-type=\"text\">Backend</th>"
                    "<th class=\"text\" data-type=\"text\">Status</th><th class=\"text\" data-type=\"text\">Started</th>"
                    "<th class=\"text\" data-type=\"text\">Fingerprint</th><th class=\"text\" data-type=\"text\">keval</th>"
                    "<th class=\"text\" data-type=\"text\">MC mode</th><th class=\"text\" data-type=\"text\">Few-shot</th>"
                    "<th class=\"text\" data-type=\"text\">Limit</th><th class=\"text\" data-type=\"text\">Seed</th>"
                    "<th data-type=\"num\">Tasks</th></tr></thead>\n<tbody>\n";
  for (const auto& v : m.runs) {
    const RunRecord& r = v.run;
    out += fmt::format("<tr><td class=\"text\"><a href=\"{}\">{}</a></td><td class=\"text\"><code>{}</code></td>"
                       "<td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td>"
                       "<td class=\"text\"><code title=\"{}\">{}</code></td><td class=\"text\">{}</td><td class=\"text\">{}</td>"
                       "<td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td data-v=\"{}\">{}</td></tr>\n",
                       escape(run_href(r, prefix)), escape(r.name), escape(r.id), escape(r.model.empty() ? "–" : r.model),
                       escape(r.backend), escape(r.status), escape(r.created_at), escape(r.config_hash),
                       escape(short_hash(r.config_hash)), escape(r.keval_version), escape(config_value(r.config, "mc_mode")),
                       escape(config_value(r.config, "num_fewshot")), escape(config_value(r.config, "limit")),
                       escape(seed_of(r)), v.tasks.size(), v.tasks.size());
  }
  return out + "</tbody></table></div>\n";
}

std::string index_page(const Model& m) {
  std::vector<Column> top, all;
  for (const auto& e : m.entries) {
    if (e.metrics.empty()) continue;
    if (!m.grouped.count(e.name)) top.push_back({&e, e.metrics.front()});
  }
  for (const auto& e : m.entries)
    if (!e.metrics.empty()) all.push_back({&e, e.metrics.front()});
  // Rank by the top-level column most runs have (the first such one).
  auto best_column = [&](const std::vector<Column>& cols) {
    size_t best = 0, best_count = 0;
    for (size_t c = 0; c < cols.size(); ++c) {
      size_t count = 0;
      for (const auto& r : m.runs) count += result_of(r, cols[c].entry->name, cols[c].metric) ? 1 : 0;
      if (count > best_count) {
        best = c;
        best_count = count;
      }
    }
    return best;
  };
  std::string out = page_head("keval leaderboard", "Leaderboard of keval runs with 95% intervals");
  out += fmt::format("<header><h1>keval leaderboard</h1><div class=\"muted\">{} runs · {} tasks and groups · written {} by keval {}"
                     "</div></header>\n",
                     m.runs.size(), m.entries.size(), escape(utc_now_iso8601()), escape(k_version));
  out += "<h2 id=\"leaderboard\">Leaderboard</h2>\n";
  if (m.runs.empty()) {
    out += "<p>This database holds no run yet.</p>\n";
    return out + page_tail({});
  }
  out += "<p class=\"note\">Top-level groups and tasks, each with its headline metric and 95% interval (small). Click a column "
         "header to sort by it. <b>Rank</b> (by <span id=\"board-rank-by\"></span>): 1 + the number of runs whose 95% "
         "interval lies entirely above this run's, so runs whose intervals overlap share a rank; this is conservative "
         "(<code>keval compare</code> runs the paired test). Groups: <i>macro</i> is the mean of their members, "
         "<i>micro</i> weights members by samples.</p>\n";
  std::vector<const RunView*> runs;
  for (const auto& v : m.runs) runs.push_back(&v);
  const size_t rank_col = best_column(top);
  out += board_table("board", runs, top, rank_col, "");
  out += "<h2 id=\"charts\">Groups</h2>\n<div class=\"charts\">\n";
  for (const auto& e : m.entries)
    if (e.is_group && !e.metrics.empty()) out += bar_chart(e, e.metrics.front(), runs);
  out += "</div>\n";
  out += "<h2 id=\"all\">Every task and group</h2>\n<p class=\"note\">The headline metric of every task and group, ± half "
         "its 95% interval; hover a value for the interval, n, failures and the standard error. A task's name opens its "
         "sample browser, which also shows every other metric.</p>\n";
  out += board_table("all-board", runs, all, best_column(all), "", true);
  out += runs_section(m, "");
  out += "<p class=\"note\">Every figure comes from the database's stored scores: <code>keval results --run ID</code> prints "
         "the same numbers, <code>keval compare BASE CAND</code> the paired differences with p-values.</p>\n";
  return out + page_tail({k_table_js, k_selftest_js});
}

std::string run_page(const RunView& v) {
  const RunRecord& r = v.run;
  std::string out = page_head(fmt::format("keval run {}", r.name), "A keval run's configuration");
  out += fmt::format("<header><a href=\"../index.html\">← leaderboard</a><h1>{}</h1><div class=\"muted\">run <code>{}</code> · "
                     "fingerprint <code>{}</code> · {} · {}</div></header>\n",
                     escape(r.name), escape(r.id), escape(r.config_hash), escape(r.status), escape(r.created_at));
  out += "<h2>Task versions</h2>\n<table class=\"sortable\"><thead><tr><th class=\"text\" data-type=\"text\">Task</th>"
         "<th data-type=\"num\">Version</th><th class=\"text\" data-type=\"text\">Content hash</th><th class=\"text\" "
         "data-type=\"text\">Asked by</th></tr></thead><tbody>\n";
  for (const auto& t : r.config.value("tasks", nlohmann::json::array())) {
    const std::string version = t.contains("version") ? t.at("version").dump() : "";
    out += fmt::format("<tr><td class=\"text\"><a href=\"{}\">{}</a></td><td data-v=\"{}\">{}</td><td class=\"text\"><code>{}</code>"
                       "</td><td class=\"text\">{}</td></tr>\n",
                       escape(task_href(t.value("name", ""), "../")), escape(t.value("name", "")), escape(version),
                       escape(version), escape(t.value("hash", "")), escape(t.value("mode", "")));
  }
  out += "</tbody></table>\n<h2>Configuration</h2>\n<pre>" + escape(r.config.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) +
         "</pre>\n";
  return out + page_tail({k_table_js});
}

// Appends `s` as a JSON string that is also safe inside <script>: < > & U+2028 U+2029 as \uXXXX.
// Invalid UTF-8 is passed through; the browser decodes it as U+FFFD.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '<': out += "\\u003c"; break;
    case '>': out += "\\u003e"; break;
    case '&': out += "\\u0026"; break;
    default:
      if (c < 0x20) {
        out += fmt::format("\\u{:04x}", c);
      } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                 (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
        out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
        i += 2;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
}

// One run's stored rows for one task.
struct SampleRow {
  std::string status, extracted, values, gold;
  std::vector<std::string> turns;  // JSON of each turn's answer
};

// The JSON block of a task page: samples (id, stored requests, gold) and every run's answers.
// Already script-safe: strings go through append_json_string, stored JSON through script_safe.
std::string task_data(Reader& reader, const std::string& task, const std::string& metric, const std::vector<const RunView*>& runs) {
  std::vector<std::string> ids;
  std::unordered_map<std::string, size_t> index;
  std::vector<std::vector<std::optional<SampleRow>>> rows(runs.size());
  // Samples in the order the first run stored their scores (the dataset's order), then any
  // other run's extra samples.
  for (size_t k = 0; k < runs.size(); ++k) {
    auto& mine = rows[k];
    reader.each(reader.scores(), runs[k]->run.id, task, [&](sqlite3_stmt* s) {
      std::string id(column_text(s, 0));
      auto [it, inserted] = index.emplace(id, ids.size());
      if (inserted) ids.push_back(std::move(id));
      if (mine.size() <= it->second) mine.resize(it->second + 1);
      SampleRow row;
      row.status = std::string(column_text(s, 1));
      row.extracted = std::string(column_text(s, 2));
      const std::string_view score = column_text(s, 3);
      const std::string_view v = member_text(score, "values");
      row.values = v.empty() ? "null" : html::script_safe(v);
      std::string_view g = member_text(score, "gold_number");
      if (g.empty() || g == "null") g = member_text(score, "gold");
      row.gold = g.empty() ? "null" : html::script_safe(g);
      mine[it->second] = std::move(row);
    });
  }
  for (auto& r : rows) r.resize(ids.size());
  // Prompts: the stored requests of the first run that has the sample.
  std::vector<std::vector<std::string>> requests(ids.size());
  for (const RunView* v : runs) {
    bool missing = false;
    for (const auto& r : requests) missing = missing || r.empty();
    if (!missing) break;
    std::vector<std::vector<std::string>> found(ids.size());
    reader.each(reader.requests(), v->run.id, task, [&](sqlite3_stmt* s) {
      auto it = index.find(std::string(column_text(s, 0)));
      if (it == index.end() || !requests[it->second].empty()) return;
      const auto turn = static_cast<size_t>(std::max<sqlite3_int64>(0, sqlite3_column_int64(s, 1)));
      auto& turns = found[it->second];
      if (turns.size() <= turn) turns.resize(turn + 1, "null");
      turns[turn] = html::script_safe(column_text(s, 2));
    });
    for (size_t i = 0; i < ids.size(); ++i)
      if (requests[i].empty() && !found[i].empty()) requests[i] = std::move(found[i]);
  }
  // Answers.
  for (size_t k = 0; k < runs.size(); ++k) {
    auto& mine = rows[k];
    reader.each(reader.responses(), runs[k]->run.id, task, [&](sqlite3_stmt* s) {
      auto it = index.find(std::string(column_text(s, 0)));
      if (it == index.end() || !mine[it->second]) return;
      const auto turn = static_cast<size_t>(std::max<sqlite3_int64>(0, sqlite3_column_int64(s, 1)));
      auto& t = mine[it->second]->turns;
      if (t.size() <= turn) t.resize(turn + 1, "null");
      std::string answer;
      if (column_text(s, 2) != "ok")
        append_json_string(answer, fmt::format("[no answer: {}: {}]", column_text(s, 5), column_text(s, 6)));
      else if (!column_null(s, 4))
        answer = compact_numbers(column_text(s, 4));
      else
        append_json_string(answer, column_text(s, 3));
      t[turn] = std::move(answer);
    });
  }

  std::string out;
  out.reserve(1 << 20);
  out += "{\"task\":";
  append_json_string(out, task);
  out += ",\"metric\":";
  append_json_string(out, metric);
  out += ",\"runs\":[";
  for (size_t k = 0; k < runs.size(); ++k) {
    out += k ? ",{\"id\":" : "{\"id\":";
    append_json_string(out, runs[k]->run.id);
    out += ",\"name\":";
    append_json_string(out, runs[k]->run.name);
    out += '}';
  }
  out += "],\"samples\":[";
  for (size_t i = 0; i < ids.size(); ++i) {
    out += i ? ",{\"id\":" : "{\"id\":";
    append_json_string(out, ids[i]);
    out += ",\"gold\":";
    std::string gold = "null";
    for (const auto& r : rows)
      if (r[i]) {
        gold = r[i]->gold;
        break;
      }
    out += gold;
    out += ",\"requests\":[";
    for (size_t t = 0; t < requests[i].size(); ++t) {
      if (t) out += ',';
      out += requests[i][t];
    }
    out += "]}";
  }
  // Per run, per sample: [status, extracted, answer, values], or null where the run has none.
  out += "],\"answers\":[";
  for (size_t k = 0; k < runs.size(); ++k) {
    out += k ? ",[" : "[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ',';
      const auto& row = rows[k][i];
      if (!row) {
        out += "null";
        continue;
      }
      out += '[';
      append_json_string(out, row->status);
      out += ',';
      append_json_string(out, row->extracted);
      out += ',';
      if (row->turns.empty()) {
        out += "null";
      } else if (row->turns.size() == 1) {
        out += row->turns[0];
      } else {
        out += '[';
        for (size_t t = 0; t < row->turns.size(); ++t) {
          if (t) out += ',';
          out += row->turns[t];
        }
        out += ']';
      }
      out += ',';
      out += row->values;
      out += ']';
    }
    out += ']';
  }
  out += "]}";
  return out;
}

std::string task_page(Reader& reader, const Model& m, const Entry& e) {
  std::vector<const RunView*> runs;
  for (const auto& v : m.runs)
    if (v.tasks.count(e.name)) runs.push_back(&v);
  const std::string metric = e.metrics.empty() ? "acc" : e.metrics.front();
  std::string out = page_head(fmt::format("keval: {}", e.name), "A keval task's results and samples");
  out += fmt::format("<header><a href=\"../index.html\">← leaderboard</a><h1>{}</h1><div class=\"muted\">{} runs · metrics: {}"
                     "</div></header>\n",
                     escape(e.name), runs.size(), escape(text::join(e.metrics, ", ")));
  std::vector<Column> columns;
  for (const auto& metricName : e.metrics) columns.push_back({&e, metricName});
  out += "<h2>Results</h2>\n" + board_table("board", runs, columns, 0, "../");
  out += "<h2 id=\"samples-heading\">Samples</h2>\n<p class=\"note\">Each sample's prompt as the first run that has it sent it, "
         "then every run's answer (raw), the answer extracted from it and its score. Pick two runs and tick the box to see "
         "only the samples they score differently (" + escape(metric) + ").</p>\n";
  out += "<div class=\"controls\"><label>Search <input id=\"search\" type=\"search\" placeholder=\"text or id\"></label>"
         "<label>Run A <select id=\"run-a\"></select></label><label>Run B <select id=\"run-b\"></select></label>"
         "<label><input id=\"only-differ\" type=\"checkbox\"> only where A and B differ</label>"
         "<button id=\"prev\" type=\"button\">← previous</button><button id=\"next\" type=\"button\">next →</button>"
         "<span id=\"page-info\" class=\"muted\"></span></div>\n<div id=\"samples\"></div>\n";
  out += "<script type=\"application/json\" id=\"keval-data\">" + task_data(reader, e.name, metric, runs) + "</script>\n";
  return out + page_tail({k_table_js, k_browser_js});
}

uintmax_t write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) throw InputError(fmt::format("{}: cannot write", path.string()));
  return content.size();
}

} // namespace

SiteSummary write_site(Store& store, const std::string& out_dir) {
  const fs::path root(out_dir);
  std::error_code ec;
  fs::create_directories(root / "tasks", ec);
  fs::create_directories(root / "runs", ec);
  if (!fs::is_directory(root / "tasks") || !fs::is_directory(root / "runs"))
    throw InputError(fmt::format("{}: cannot create the report directory", out_dir));

  Model model = build_model(store);
  SiteSummary summary;
  summary.runs = model.runs.size();
  // Task pages hold nearly all the work (every run's every answer), and each is independent:
  // one worker per core, each with its own read-only connection.
  std::vector<const Entry*> tasks;
  for (const auto& e : model.entries)
    if (!e.is_group) tasks.push_back(&e);
  std::atomic<size_t> next{0};
  std::atomic<uintmax_t> bytes{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto worker = [&]() {
    try {
      Reader reader(store.path());
      for (size_t i = next++; i < tasks.size(); i = next++) {
        const Entry& e = *tasks[i];
        bytes += write_file(root / "tasks" / (html::file_name(e.name) + ".html"), task_page(reader, model, e));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = tasks.size();
    }
  };
  const size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers && w < tasks.size(); ++w) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  summary.bytes += bytes;
  summary.task_pages = tasks.size();
  for (const auto& v : model.runs) summary.bytes += write_file(root / "runs" / (html::file_name(v.run.id) + ".html"), run_page(v));
  summary.index_bytes = write_file(root / "index.html", index_page(model));
  summary.bytes += summary.index_bytes;
  return summary;
}

} // namespace keval
