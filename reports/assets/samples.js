// keval report: a task page's sample browser. Embedded into keval at build time, written as
// assets/samples.js.
//
// Its data are script files beside the page (data/<task>/index.js, data/<task>/<k>.js) that
// register themselves through window.kevalSamples: fetch() cannot read a local file when the
// site is opened from disk, a <script src> can. The index (ids, each run's status and headline
// value per sample) is loaded with the page; prompts and answers come in chunks, only when a
// page of the browser shows them (or a search needs their text). Every text from the data goes
// into the page with textContent, never as markup.
(function(){
'use strict';
var list=document.getElementById('samples');
if(!list)return;
var base=list.getAttribute('data-base'),status=document.getElementById('samples-status');
var D=null,chunks={},waiting={};
var el=function(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined&&text!==null)e.textContent=String(text);return e;};
var ra=document.getElementById('run-a'),rb=document.getElementById('run-b'),only=document.getElementById('only-differ');
var q=document.getElementById('search'),info=document.getElementById('page-info');
var page=0,per=25,shown=[],generation=0,first_page=0;

function say(text){status.textContent=text||'';}
// Loads chunk k once; `done` runs when it has registered itself.
function load(k,done){
  if(chunks[k]){done();return;}
  if(waiting[k]){waiting[k].push(done);return;}
  waiting[k]=[done];
  var s=document.createElement('script');
  s.src=base+'/'+k+'.js';
  s.onerror=function(){say('could not read '+s.src+' (is the data folder beside the pages?)');delete waiting[k];};
  document.body.appendChild(s);
}
function loadAll(ks,done){
  var left=ks.length;if(!left){done();return;}
  ks.forEach(function(k){load(k,function(){if(--left===0)done();});});
}
function sample(i){var c=chunks[Math.floor(i/D.chunk_size)];return c?c.samples[i%D.chunk_size]:null;}
function answer(k,i){var c=chunks[Math.floor(i/D.chunk_size)];return c?c.answers[k][i%D.chunk_size]:null;}

function value(k,i){var a=D.values[k][i];return a?a[1]:null;}
function differ(i){
  var A=D.values[+ra.value][i],B=D.values[+rb.value][i];
  if(!A||!B)return false;if(A[0]==='f'||B[0]==='f')return false;
  return A[1]!==B[1];
}
function text(i){
  var s=sample(i),parts=[D.ids[i]];
  (s.requests||[]).forEach(function(r){if(r){if(r.context)parts.push(r.context);(r.messages||[]).forEach(function(m){parts.push(m.content);});}});
  D.runs.forEach(function(run,k){var a=answer(k,i);if(a){parts.push(a[1]);parts.push(typeof a[2]==='string'?a[2]:JSON.stringify(a[2]));}});
  return parts.join('\n').toLowerCase();
}
function allChunks(){var ks=[];for(var k=0;k*D.chunk_size<D.ids.length;k++)ks.push(k);return ks;}
function filter(){
  var needle=q.value.trim().toLowerCase(),mine=++generation;
  var apply=function(){
    if(mine!==generation)return;
    shown=[];
    for(var i=0;i<D.ids.length;i++){
      if(only.checked&&!differ(i))continue;
      if(needle&&text(i).indexOf(needle)<0)continue;
      shown.push(i);
    }
    say('');page=first_page;first_page=0;render();
  };
  if(!needle){apply();return;}
  // A search reads every sample's text: every chunk, once.
  say('reading every sample to search them\u2026');
  loadAll(allChunks(),apply);
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
function draw(visible){
  while(list.firstChild)list.removeChild(list.firstChild);
  visible.forEach(function(i){
    var s=sample(i),art=el('article','sample');art.setAttribute('data-sample',D.ids[i]);
    art.appendChild(el('h3',null,D.task+' / '+D.ids[i]));
    var box=el('div','prompt');prompt(s,box);art.appendChild(box);
    var t=el('table'),head=el('tr');['run','answer','extracted','score'].forEach(function(h){head.appendChild(el('th','text',h));});t.appendChild(head);
    D.runs.forEach(function(r,k){
      var a=answer(k,i);if(!a)return;
      var tr=el('tr',(k===+ra.value||k===+rb.value)?'pick':null),v=value(k,i);
      tr.appendChild(el('td',null,r.name));
      var ans=el('td','answer');ans.appendChild(el('pre',null,answerText(a)));tr.appendChild(ans);
      tr.appendChild(el('td',null,a[1]));
      tr.appendChild(el('td',a[0]==='failed'?'failed':(v===1?'right':(v===0?'wrong':null)),scoreText(a)));
      t.appendChild(tr);
    });
    art.appendChild(t);list.appendChild(art);
  });
}
function render(){
  var pages=Math.max(1,Math.ceil(shown.length/per));if(page>=pages)page=pages-1;
  info.textContent=shown.length+' of '+D.ids.length+' samples \u00b7 page '+(page+1)+' of '+pages;
  var visible=shown.slice(page*per,page*per+per),needed={},mine=++generation;
  visible.forEach(function(i){needed[Math.floor(i/D.chunk_size)]=true;});
  loadAll(Object.keys(needed).map(Number),function(){if(mine===generation)draw(visible);});
}
function start(){
  D.runs.forEach(function(r,i){[ra,rb].forEach(function(s){var o=el('option',null,r.name);o.value=String(i);s.appendChild(o);});});
  if(D.runs.length>1)rb.value='1';
  document.getElementById('prev').addEventListener('click',function(){if(page>0){page--;render();}});
  document.getElementById('next').addEventListener('click',function(){page++;render();});
  [ra,rb,only].forEach(function(x){x.addEventListener('change',filter);});
  q.addEventListener('input',filter);
  // #differ ticks the box; #page=N opens page N (1-based), which reads only the chunks it shows.
  if(location.hash==='#differ')only.checked=true;
  var m=/^#page=(\d+)$/.exec(location.hash);
  if(m)first_page=Math.max(0,parseInt(m[1],10)-1);
  filter();
}
window.kevalSamples={
  index:function(data){if(D)return;D=data;start();},
  chunk:function(k,data){
    if(!D||data.task!==D.task)return;
    chunks[k]=data;var w=waiting[k]||[];delete waiting[k];w.forEach(function(f){f();});
  }
};
})();
